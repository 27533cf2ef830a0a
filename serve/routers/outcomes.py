"""POST /v1/outcomes: CRM events (first contact, touch, won, lost) stored beside the scores.

Its own key scope (`X-Outcome-Key`). Events are validated by the rules of
`leadscore.scoring.outcomes` (a bad one gets a 422 naming the field) and stored in one
transaction in the scoring-log database (`lead_events`). 200 means committed: an event id
already stored with another payload gets 409 (nothing of the batch is stored), and a database
that cannot take the events within `LEADSCORE_OUTCOME_TIMEOUT_SECONDS` gets 503 with
`Retry-After`, never a hang or a 500. Contradictory outcomes and leads never scored are kept and
named in the answer.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from leadscore.scoring.log import ScoringLog
from leadscore.scoring.outcome_store import (
    OutcomeConflict,
    OutcomeRefused,
    OutcomesUnavailable,
    ScoredLookup,
)
from leadscore.scoring.outcomes import OutcomeBatch, validation_context
from leadscore_serve.deps import OutcomesDep, ScoringLogDep, SettingsDep
from leadscore_serve.problems import ProblemError, stored_event_responses
from leadscore_serve.routers.scoring import parse_body, request_body_openapi, require_json
from leadscore_serve.security import require_outcome_key

router = APIRouter(tags=["outcomes"], dependencies=[Depends(require_outcome_key)])


class OutcomesStored(BaseModel):
    received: int = Field(description="events in the request")
    stored: int = Field(description="new events, committed")
    duplicates: int = Field(description="event ids already stored with the same payload (a replay)")
    never_scored: list[str] = Field(
        description="leads of these events that the scoring log never scored (events kept)"
    )
    contradictory: list[str] = Field(
        description="leads of these events whose outcomes contradict (won and lost, or wins of "
        "different values): kept, and left out of the feedback's conversion figures"
    )


def known_scored(scoring_log: ScoringLog | None) -> ScoredLookup | None:
    """Leads this service scored moments ago (their rows may still be in its journal)."""
    if scoring_log is None:
        return None
    return lambda leads: scoring_log.previous(leads).found.keys()  # memory only


@router.post(
    "/v1/outcomes",
    operation_id="record_outcomes",
    summary="Record CRM events for scored leads (idempotent by event id)",
    response_model=OutcomesStored,
    responses=stored_event_responses(401, 403, 413, 415, 422),
    openapi_extra=request_body_openapi(OutcomeBatch),
)
async def record_outcomes(
    request: Request, outcomes: OutcomesDep, settings: SettingsDep, scoring_log: ScoringLogDep
) -> OutcomesStored:
    require_json(request.headers.get("content-type"))
    context = validation_context(settings.outcome_clock_skew_seconds)
    batch = cast(OutcomeBatch, parse_body(OutcomeBatch, await request.body(), context))
    try:
        stored = await outcomes.record_async(batch.events, "api", known_scored(scoring_log))
    except OutcomeConflict as error:
        raise ProblemError(
            409, str(error), kind="outcome-conflict", extra={"event_ids": error.event_ids}
        ) from None
    except OutcomeRefused as error:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "events", problem.index, problem.field),
                    "msg": problem.message,
                    "type": "outcome_before_lead_creation",
                }
                for problem in error.problems
            ]
        ) from None
    except OutcomesUnavailable as error:
        raise ProblemError(
            503,
            str(error),
            kind="outcomes-unavailable",
            headers={"Retry-After": str(error.retry_after)},
        ) from None
    return OutcomesStored(**vars(stored))
