"""Operations: liveness, readiness, Prometheus metrics, and the model card."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadscore.core.redact import redact, redact_mapping
from leadscore_serve.card_schemas import ModelCard
from leadscore_serve.deps import ApiKeysDep, HolderDep, MetricsDep, ScoringLogDep
from leadscore_serve.problems import ProblemError, problem_responses
from leadscore_serve.schemas import Liveness, Readiness
from leadscore_serve.security import matches, require_api_key

router = APIRouter()


@router.get(
    "/healthz",
    operation_id="liveness",
    tags=["operations"],
    summary="The process is alive; the scoring log's state",
    response_model=Liveness,
    responses=problem_responses(),
)
async def healthz(scoring_log: ScoringLogDep) -> dict[str, str]:
    """Always 200 while the process answers (a database outage is no reason to restart it),
    from memory on the event loop: no database call, no worker thread."""
    return {"status": "alive", "scoring_log": scoring_log.state if scoring_log else "off"}


@router.get(
    "/readyz",
    operation_id="readiness",
    tags=["operations"],
    summary="A verified model is loaded and scoring",
    response_model=Readiness,
    responses=problem_responses(503, schemas={503: "NotReady"}),
)
async def readyz(
    request: Request, holder: HolderDep, scoring_log: ScoringLogDep, keys: ApiKeysDep
) -> dict:
    model = holder.current
    detailed = has_api_key(request, keys)  # no host, user or path for anonymous callers
    body = {
        "ready": model is not None,
        "model_version": model.version if model else None,
        "contract_version": model.contract_version if model else None,
        "contract_agreement": model.agreement["status"] if model else None,
        "contract_override": model.agreement["override"] if model else None,
        "loaded_at": model.loaded_at if model else None,
        "last_reload": reload_status(holder.last_reload, detailed),
        "scoring_log": scoring_log_status(scoring_log, detailed),
    }
    if detailed:
        body["model_source"] = redact(model.source if model else holder.uri)
    if model is None:
        raise ProblemError(503, "no model loaded yet", kind="not-ready", extra=body)
    return body


def has_api_key(request: Request, keys: tuple[bytes, ...]) -> bool:
    return bool(keys) and matches(request.headers.get("x-api-key"), keys)


def reload_status(outcome: dict, detailed: bool) -> dict | None:
    """The last reload; its error (which names files) only for a caller with an API key."""
    if not outcome:
        return None
    shown = {key: value for key, value in outcome.items() if key != "error"}
    if detailed and "error" in outcome:
        shown["error"] = redact(outcome["error"])
    return shown


def scoring_log_status(scoring_log, detailed: bool) -> dict | None:
    """The scoring log's health and counters, from memory (no database call)."""
    if scoring_log is None:
        return None
    stats = dict(vars(scoring_log.stats))
    error = stats.pop("last_error")
    status = {
        "healthy": scoring_log.healthy,
        "state": scoring_log.state,
        **stats,
        "unshipped": scoring_log.backlog.rows,
        "oldest_unshipped_seconds": round(scoring_log.backlog.oldest_seconds(), 3),
        "dead_letters": scoring_log.dead_letters,
    }
    if detailed:
        status["last_error"] = redact(error) if error else None
    return status


@router.get(
    "/metrics",
    operation_id="metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}
    | problem_responses(),
)
def metrics(service_metrics: MetricsDep, scoring_log: ScoringLogDep) -> Response:
    if scoring_log is not None:
        service_metrics.log_written.set(scoring_log.stats.written)
        service_metrics.log_failures.set(scoring_log.stats.failed_writes)
    return Response(generate_latest(service_metrics.registry), media_type=CONTENT_TYPE_LATEST)


def without_credentials(uri: str) -> str:
    """`postgresql://user:secret@db/mlflow` -> `postgresql://db/mlflow`: no secret is served."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


@router.get(
    "/v1/model",
    operation_id="get_model_card",
    tags=["model"],
    summary="The model card: version, training data, metrics, the contract it encodes",
    dependencies=[Depends(require_api_key)],
    response_model=ModelCard,
    responses=problem_responses(401),
)
def model_card(holder: HolderDep) -> dict:
    model = holder.served
    card = model.card.to_record()
    card.pop("input_example", None)  # the request example is in the OpenAPI document
    if model.card.mlflow is not None:
        card["mlflow"]["tracking_uri"] = without_credentials(model.card.mlflow.tracking_uri)
    return redact_mapping(  # every string of the answer, with any URI password masked
        {
            **card,
            "contract_version": model.contract_version,
            "contract": model.grading.get("contract"),
            "agreement": model.agreement,
            "grading": {
                "thresholds": model.grading.get("thresholds"),
                "derivation": model.grading.get("derivation"),
            },
            "source": model.source,
            "registry": model.registry,
            "loaded_at": model.loaded_at,
        }
    )
