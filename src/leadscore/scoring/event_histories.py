"""A lead's activity events as the one-lead path computes its behaviour from them: times in
nanoseconds since the epoch and types, merged from the event store's aggregated read and the
events a score request sends (leadscore.scoring.events_store reads; leadscore.data.behaviour
counts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import orjson

EPOCH = datetime(1970, 1, 1)


@dataclass
class History:
    """A lead's activity events as `leadscore.data.behaviour.lead_features` reads them: times
    (nanoseconds since the epoch, naive UTC) and types (stripped, lower-case), and the events
    themselves for whoever shows them."""

    times_ns: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def epoch_ns(moment: datetime) -> int:
    """A moment (naive: UTC) in nanoseconds since the epoch (microseconds: exact)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - EPOCH) // MICROSECOND * 1_000


MICROSECOND = timedelta(microseconds=1)


def moments_ns(values: list[Any]) -> list[int]:
    """Stored moments (naive UTC) in nanoseconds since the epoch, as `epoch_ns`: datetimes, or
    ISO text from a JSON aggregate (SQLite keeps the text SQLAlchemy wrote, PostgreSQL's JSON
    an ISO timestamp), parsed at once."""
    if values and isinstance(values[0], datetime):
        return [epoch_ns(value) for value in values]
    return cast(
        list[int], (np.array(values, dtype="datetime64[us]").astype(np.int64) * 1000).tolist()
    )


def merged_histories(
    stored: Iterable[tuple[str, Any]], sent: Iterable[dict[str, Any]]
) -> dict[str, History]:
    """Each lead's history from its stored events (rows of lead id and a JSON array, or list,
    of [event id, moment, type]) and the `sent` events' rows (`ActivityEvent.row`) not stored:
    an event id counts once, the stored one (as `EventStore.events_of` merges them)."""
    out: dict[str, History] = {}
    seen: set[str] = set()
    for lead_id, items in stored:
        events = orjson.loads(items) if isinstance(items, str) else items
        seen.update(event[0] for event in events)  # stored ids are unique: the primary key
        history = out.setdefault(lead_id, History())
        history.times_ns += moments_ns([event[1] for event in events])
        history.kinds += [event[2] for event in events]
    for row in sent:
        if row["event_id"] not in seen:
            seen.add(row["event_id"])
            history = out.setdefault(row["lead_id"], History())
            history.times_ns.append(epoch_ns(row["occurred_at"]))
            history.kinds.append(row["event_type"])
    return out


def grouped_rows(rows: Iterable[dict[str, Any]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Event rows (`EVENT_KEYS`) in the aggregated read's shape: per lead, its events."""
    by_lead: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        item = (row["event_id"], row["occurred_at"], row["event_type"])
        by_lead.setdefault(row["lead_id"], []).append(item)
    return list(by_lead.items())
