"""POST /v1/score: one lead or a batch; probability, score, grade, reasons, warnings.

No `from __future__ import annotations` here: FastAPI must see the request model itself.
"""

import orjson
from fastapi import APIRouter, Depends, Request, Response

from leadscore.scoring_log import rows_for
from serve.schemas import ScoreResponse
from serve.security import require_api_key


def scoring_router(request_model) -> APIRouter:
    """The scoring route, typed with the request model derived from the served model's card."""
    router = APIRouter(tags=["scoring"], dependencies=[Depends(require_api_key)])

    @router.post(
        "/v1/score",
        summary="Score one lead or a batch of leads",
        response_model=ScoreResponse,
        responses={
            401: {"description": "missing or invalid X-API-Key"},
            413: {"description": "request body too large"},
            422: {"description": "a field is missing, of the wrong type or out of range"},
        },
    )
    def score(body: request_model, request: Request) -> Response:  # type: ignore[valid-type]
        state = request.app.state
        model = state.holder.current  # one reference: a reload cannot change it mid-request
        scorer = model.scorer
        records = [vars(lead) for lead in body.leads]
        matrix, warnings = scorer.encode_records(records)
        scored = scorer.score(matrix, reasons=body.reasons)
        results = []
        for i, record in enumerate(records):
            explanation = None
            if scored.contributions is not None:
                explanation = scorer.reasons(scored.contributions[i], record)
                explanation["raw_output"] = float(scored.raw[i])
            results.append(
                {
                    "lead_id": record["lead_id"],
                    "probability": float(scored.probability[i]),
                    "score": int(scored.score[i]),
                    "grade": scored.grade[i],
                    "explanation": explanation,
                    "warnings": warnings[i],
                    "model_version": model.version,
                    "contract_version": model.contract_version,
                }
            )
        if state.scoring_log is not None:
            state.scoring_log.record(
                rows_for(
                    (r["lead_id"] for r in records),
                    scored.probability,
                    scored.score,
                    scored.grade,
                    model.version,
                    model.contract_version,
                    source="api",
                )
            )
        state.metrics.observe_leads(scored.grade, sum(map(len, warnings)))
        payload = {
            "model_version": model.version,
            "contract_version": model.contract_version,
            "results": results,
        }
        return Response(orjson.dumps(payload), media_type="application/json")

    return router
