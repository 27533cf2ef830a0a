"""POST /v1/score for a model trained on activity events: each lead's behaviour features as of
now (the service's clock), from its events in the event store merged with those sent in the
request, by the model's definition (leadscore.scoring.behaviour.records_as_of).

The store is read off the event loop and answered within `LEADSCORE_OUTCOME_TIMEOUT_SECONDS`:
a database that hangs or fails gets a 503 with `Retry-After` (nothing is scored or logged),
never a frozen service. A lead without `created_at`, or a sent event of a lead not in the
request, gets a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from leadscore.core import fields
from leadscore.scoring.behaviour import missing_creation, records_as_of
from leadscore.scoring.events_store import ActivityEvent, EventStore, EventsUnavailable
from leadscore.scoring.loading import ServedModel
from leadscore_serve.problems import unavailable

INLINE_LEADS = 16  # larger requests compute their behaviour off the event loop


def refuse_strangers(leads: Sequence[Mapping[str, Any]], sent: Sequence[ActivityEvent]) -> None:
    """422 for leads without a creation date and events of leads the request does not score."""
    errors: list[dict[str, Any]] = [
        {
            "loc": ("body", "leads", i, "created_at"),
            "msg": "a model trained on activity events needs each lead's creation date",
            "type": "missing",
        }
        for i in missing_creation(leads)
    ]
    ids = {lead[fields.LEAD_ID] for lead in leads}
    errors += [
        {
            "loc": ("body", "events", i, "lead_id"),
            "msg": f"{event.lead_id!r} is not a lead of this request (send it to /v1/events)",
            "type": "value_error",
        }
        for i, event in enumerate(sent)
        if event.lead_id not in ids
    ]
    if errors:
        raise RequestValidationError(errors)


async def with_behaviour(
    model: ServedModel,
    leads: Sequence[Mapping[str, Any]],
    sent: list[ActivityEvent],
    store: EventStore,
    now: datetime,
) -> list[dict[str, Any]]:
    """The leads with their behaviour features as of `now`; 422 / 503 as the module says."""
    refuse_strangers(leads, sent)
    try:
        histories = await store.histories_async([lead[fields.LEAD_ID] for lead in leads], sent)
    except EventsUnavailable as error:
        raise unavailable(error, "events-unavailable") from None
    if len(leads) <= INLINE_LEADS:
        return records_as_of(model.scorer, leads, histories, now)
    return await run_in_threadpool(records_as_of, model.scorer, leads, histories, now)
