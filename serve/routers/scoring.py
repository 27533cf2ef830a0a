"""POST /v1/score: one lead or a batch; probability, score, grade, reasons, warnings.

The body is parsed and validated in one step by pydantic's JSON parser (`model_validate_json`),
which is several times faster than `json.loads` followed by validation; the request model is
still the documented schema (see `request_body_openapi`) and errors are the usual 422s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from leadscore.scoring import output
from leadscore.scoring.loading import ServedModel
from leadscore.scoring.log import ScoringLog, ScoringLogUnavailable
from leadscore.scoring.log_table import rows_for
from leadscore.scoring.trend import PreviousScores
from leadscore_serve.behaviour import with_behaviour
from leadscore_serve.deps import ScoringServicesDep
from leadscore_serve.limits import check_counts
from leadscore_serve.metrics import ServiceMetrics
from leadscore_serve.problems import ProblemError, problem_responses
from leadscore_serve.schemas import ScoreResponse, id_field
from leadscore_serve.security import require_api_key

log = logging.getLogger(__name__)

INLINE_LEADS = 16  # larger batches are scored off the event loop


class ScoreRequest(Protocol):
    """What the route reads of the request model (built per served model: its lead fields)."""

    leads: list[Mapping[str, Any]]
    reasons: bool


def request_body_openapi(request_model: type[BaseModel]) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{request_model.__name__}"}
                }
            },
        }
    }


def require_json(content_type: str | None) -> None:
    """415 unless the body is declared JSON (`application/json`, `*/*+json`) or not declared."""
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ProblemError(
            415,
            f"the body must be JSON (Content-Type: application/json), not {media_type or '?'}",
            kind="unsupported-media-type",
        )


def parse_body(
    request_model: type[BaseModel], body: bytes, context: dict[str, Any] | None = None
) -> BaseModel:
    check_counts(body, request_model)  # too many keys or leads: a small 422 first
    try:
        return request_model.model_validate_json(body, context=context)
    except ValidationError as error:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def repeated_ids(leads: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Position of each repeated lead id -> position of its first appearance."""
    first: dict[str, int] = {}
    repeats = {}
    for i, lead in enumerate(leads):
        j = first.setdefault(lead["lead_id"], i)
        if j != i:
            repeats[i] = j
    return repeats


def refuse_missing_ids(leads: Sequence[Mapping[str, Any]], field: str) -> None:
    """422 for leads whose id is a missing-value token (missing after normalisation)."""
    missing = [i for i, lead in enumerate(leads) if lead.get("lead_id") is None]
    if missing:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "leads", i, field),
                    "msg": "the lead id is a missing-value token of this model's export",
                    "type": "missing",
                }
                for i in missing
            ]
        )


def refuse_repeats(repeats: dict[int, int], field: str) -> None:
    raise RequestValidationError(
        [
            {
                "loc": ("body", "leads", i, field),
                "msg": f"duplicate lead id: also in leads[{j}] (one request scores each lead once)",
                "type": "duplicate",
            }
            for i, j in repeats.items()
        ]
    )


def score_body(
    metrics: ServiceMetrics,
    scoring_log: ScoringLog | None,
    model: ServedModel,
    records: Sequence[Mapping[str, Any]],
    reasons: bool,
    repeats: dict[int, int],
    now: datetime | None = None,
) -> tuple[bytes, list | None]:
    """The answer, and the rows the scoring log must keep before it is sent.

    `records`: the validated leads (plain dicts) after the model's input normalisation (with
    their behaviour features as of `now` for a model trained on events); `now`: the
    service's clock (the rows' scoring time).
    """
    scorer = model.scorer
    version, contract_version = model.version, model.contract_version
    matrix, warnings = scorer.encode_records(records)
    for i, j in (repeats or {}).items():
        warnings[i] = [*warnings[i], f"lead_id: also in leads[{j}] of this request"]
    scored = scorer.score(matrix, reasons=reasons)
    lead_ids = [record["lead_id"] for record in records]
    previous = (  # from memory: the database is never asked on the request path
        scoring_log.previous(lead_ids) if scoring_log is not None else PreviousScores()
    )
    values = output.record_values(scorer, records) if reasons else None
    results = output.answer_records(scorer, lead_ids, scored, warnings, previous, values)
    rows = None
    if scoring_log is not None:
        rows = rows_for(
            lead_ids,
            scored.probability.tolist(),
            scored.score.tolist(),
            scored.grade.tolist(),
            version,
            contract_version,
            source="api",
            scored_at=now,
        )
    metrics.observe_leads(scored.grade, sum(map(len, warnings)))
    as_of = now.isoformat() if now is not None and model.scorer.inputs.behaviour else None
    answer = {
        "model_version": version,
        "contract_version": contract_version,
        "behaviour_as_of": as_of,
        "results": results,
    }
    return orjson.dumps(answer), rows


def scoring_router(request_model: type[BaseModel]) -> APIRouter:
    """The scoring route for the request model derived from the served model's card."""
    router = APIRouter(tags=["scoring"], dependencies=[Depends(require_api_key)])

    @router.post(
        "/v1/score",
        operation_id="score_leads",
        summary="Score one lead or a batch of leads",
        response_model=ScoreResponse,
        openapi_extra=request_body_openapi(request_model),
        responses=problem_responses(401, 408, 413, 415, 422, 429, 503),
    )
    async def score(request: Request, services: ScoringServicesDep) -> Response:
        holder, settings, scoring_log = services.holder, services.settings, services.scoring_log
        require_json(request.headers.get("content-type"))
        try:
            body = await asyncio.wait_for(request.body(), settings.body_timeout_seconds)
        except TimeoutError:
            raise ProblemError(
                408,
                "the request body did not arrive in time (LEADSCORE_BODY_TIMEOUT_SECONDS)",
                kind="body-timeout",
            ) from None
        except ClientDisconnect:  # the client left: nobody to answer, nothing went wrong
            log.info("client disconnected before sending the whole body")
            return Response(status_code=499)
        parsed = cast(ScoreRequest, parse_body(request_model, body))
        model = holder.served  # one reference: a reload cannot change it mid-request
        # id, joined fields, missing-value tokens: the normalisation training uses
        leads: Sequence[Mapping[str, Any]] = model.scorer.normalise_records(parsed.leads)
        refuse_missing_ids(leads, id_field(model.scorer.inputs))
        repeats = repeated_ids(leads)
        if repeats and settings.duplicate_lead_ids == "reject":
            refuse_repeats(repeats, id_field(model.scorer.inputs))
        now = services.clock()
        if model.scorer.inputs.behaviour:  # as of now, from the stored and the sent events
            sent = getattr(parsed, "events", [])
            leads = await with_behaviour(model, leads, sent, services.events, now)
        job = (services.metrics, scoring_log, model, leads, parsed.reasons, repeats, now)
        if len(leads) <= INLINE_LEADS:
            content, rows = score_body(*job)
        else:
            content, rows = await run_in_threadpool(score_body, *job)
        if rows and scoring_log is not None:  # durable in the scoring log before the answer
            try:
                await scoring_log.record_async(rows)
            except ScoringLogUnavailable as error:
                raise ProblemError(
                    503, str(error), kind="scoring-log-unavailable", headers={"Retry-After": "5"}
                ) from None
        return Response(content, media_type="application/json")

    return router
