"""Operations: liveness, readiness, Prometheus metrics, and the model card."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadscore_serve.security import require_api_key

router = APIRouter()


@router.get("/healthz", tags=["operations"], summary="The process is alive")
def healthz() -> dict:
    return {"status": "alive"}


@router.get(
    "/readyz",
    tags=["operations"],
    summary="A verified model is loaded and scoring",
    responses={503: {"description": "no model loaded yet"}},
)
def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    model = state.holder.current
    scoring_log = state.scoring_log
    body = {
        "ready": model is not None,
        "model_version": model.version if model else None,
        "contract_version": model.contract_version if model else None,
        "model_source": model.source if model else state.holder.uri,
        "loaded_at": model.loaded_at if model else None,
        "last_reload": state.holder.last_reload or None,
        "scoring_log": None
        if scoring_log is None
        else {
            "healthy": scoring_log.healthy,
            **vars(scoring_log.stats),
        },
    }
    return JSONResponse(body, status_code=200 if model else 503)


@router.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    state = request.app.state
    if state.scoring_log is not None:
        state.metrics.log_written.set(state.scoring_log.stats.written)
        state.metrics.log_failures.set(state.scoring_log.stats.failed_writes)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/model",
    tags=["model"],
    summary="The model card: version, training data, metrics, the contract it encodes",
    dependencies=[Depends(require_api_key)],
    responses={401: {"description": "missing or invalid X-API-Key"}},
)
def model_card(request: Request) -> dict:
    model = request.app.state.holder.current
    card = {key: value for key, value in model.card.items() if key != "input_example"}
    return {
        **card,
        "contract_version": model.contract_version,
        "contract": model.grading.get("contract"),
        "grading": {
            "thresholds": model.grading.get("thresholds"),
            "derivation": model.grading.get("derivation"),
        },
        "source": model.source,
        "registry": model.registry,
        "loaded_at": model.loaded_at,
    }
