"""POST /v1/outcomes: CRM events (first contact, touch, won, lost) stored beside the scores.

Its own key scope (`X-Outcome-Key`). Events are validated (a bad one gets a 422 naming the
field) and stored idempotently by event id in the scoring-log database (`lead_events`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from leadscore.scoring.outcomes import OutcomeBatch
from leadscore_serve.deps import OutcomesDep
from leadscore_serve.problems import problem_responses
from leadscore_serve.security import require_outcome_key

router = APIRouter(tags=["outcomes"], dependencies=[Depends(require_outcome_key)])


class OutcomesStored(BaseModel):
    received: int
    stored: int  # new events
    duplicates: int  # event ids already stored (a replay): counted once


@router.post(
    "/v1/outcomes",
    operation_id="record_outcomes",
    summary="Record CRM events for scored leads (idempotent by event id)",
    response_model=OutcomesStored,
    responses=problem_responses(401, 403, 413, 422),
)
def record_outcomes(batch: OutcomeBatch, outcomes: OutcomesDep) -> dict:
    return outcomes.record(batch.events, source="api")
