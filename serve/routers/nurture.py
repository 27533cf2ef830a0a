"""GET /v1/nurture: the leads whose grade crossed into A or out of A in the last days, with the
activity events that moved them (leadscore.scoring.nurture), for the marketing system.

The marketing system's key (`X-API-Key`). Newest crossing first, paged (`offset`, `limit`;
`total` counts them all). "Now" is the service's clock (`LEADSCORE_FIXED_NOW` for tests and
replays). A database that cannot answer within `LEADSCORE_OUTCOME_TIMEOUT_SECONDS` gets 503
with `Retry-After`, never a hang.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from leadscore.scoring.events_store import EventsUnavailable
from leadscore.scoring.nurture import DEFAULT_DAYS, nurture_of, period
from leadscore_serve.deps import ClockDep, EventsDep
from leadscore_serve.problems import problem_responses, unavailable
from leadscore_serve.schemas import Grade, ResponseModel
from leadscore_serve.security import require_api_key

router = APIRouter(tags=["nurture"], dependencies=[Depends(require_api_key)])
MAX_DAYS, MAX_LIMIT = 366, 1000


class NurtureEvent(ResponseModel):
    event_id: str
    occurred_at: datetime = Field(description="UTC")
    event_type: str
    event_value: float | None


class NurtureCrossing(ResponseModel):
    lead_id: str
    direction: Literal["into_A", "out_of_A"]
    previous_grade: Grade
    grade: Grade
    previous_score: int = Field(ge=1, le=100)
    score: int = Field(ge=1, le=100)
    previous_scored_at: datetime = Field(description="the earlier of the two scorings (UTC)")
    scored_at: datetime = Field(description="the scoring that crossed (UTC)")
    events: list[NurtureEvent] = Field(
        description="the lead's activity events between the two scores, oldest first (empty: "
        "moved by time alone, the engagement decayed)"
    )


class NurturePage(ResponseModel):
    days: int
    since: datetime = Field(description="start of the period (UTC, excluded)")
    until: datetime = Field(description="end of the period: now (UTC)")
    total: int = Field(ge=0, description="crossings in the period")
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    crossings: list[NurtureCrossing] = Field(description="newest first, then by lead id")


@router.get(
    "/v1/nurture",
    operation_id="nurture_view",
    summary="Leads whose grade crossed into or out of A lately, and the events that moved them",
    response_model=NurturePage,
    responses=problem_responses(401, 403, 422, 503),
)
async def nurture_view(
    store: EventsDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="the last N days")] = DEFAULT_DAYS,
    offset: Annotated[int, Query(ge=0, description="crossings to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="crossings per page")] = 100,
) -> NurturePage:
    now = clock()
    try:
        found = await store.bounded(partial(nurture_of, store, now, days))
    except EventsUnavailable as error:
        raise unavailable(error, "events-unavailable") from None
    since, until = period(now, days)
    page = [NurtureCrossing.model_validate(c.record()) for c in found[offset : offset + limit]]
    return NurturePage(
        days=days, since=since, until=until, total=len(found), offset=offset, limit=limit,
        crossings=page,
    )  # fmt: skip
