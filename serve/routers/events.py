"""POST /v1/events: a lead's activity events (emails opened, pages visited, demos requested),
appended to the scoring-log database (`lead_activity`, leadscore.scoring.events_store).

The marketing system's key (`X-API-Key`). 200 means committed; an event id already stored (or
repeated in the request) with another payload gets 409 and nothing of the request is stored; a
replay of the same events is counted as duplicates; a database that cannot take them gets 503
with `Retry-After`. A bad event gets 422 naming the field.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from leadscore.scoring.events_store import ActivityBatch, EventConflict, EventsUnavailable
from leadscore_serve.deps import EventsDep
from leadscore_serve.problems import ProblemError, stored_event_responses, unavailable
from leadscore_serve.security import require_api_key

router = APIRouter(tags=["events"], dependencies=[Depends(require_api_key)])


class EventsStored(BaseModel):
    received: int = Field(description="events in the request")
    stored: int = Field(description="new events, committed")
    duplicates: int = Field(description="event ids already stored with the same payload")


@router.post(
    "/v1/events",
    operation_id="record_events",
    summary="Append a lead's activity events (idempotent by event id)",
    response_model=EventsStored,
    responses=stored_event_responses(401, 403, 422),
)
async def record_events(batch: ActivityBatch, store: EventsDep) -> EventsStored:
    try:
        done = await run_in_threadpool(store.append, batch.events, "api")
    except EventConflict as error:
        raise ProblemError(
            409, str(error), kind="event-conflict", extra={"event_ids": error.event_ids}
        ) from None
    except EventsUnavailable as error:
        raise unavailable(error, "events-unavailable") from None
    return EventsStored(received=done.received, stored=done.stored, duplicates=done.duplicates)
