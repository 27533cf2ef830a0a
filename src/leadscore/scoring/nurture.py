"""The nurture view (issue 30): the leads whose grade crossed into A, or out of it, in the last
days, and the activity events that moved them.

A crossing is two consecutive scorings of a lead in the scoring log, the later one within the
period, one graded A and the other not. The events that moved it are the lead's activity events
between the two scores: at or after the earlier scoring moment and strictly before the later
one (behaviour counts only events strictly before the moment of scoring, so these are exactly
the events the later score saw and the earlier did not). A crossing without such events was
moved by time alone: the engagement decayed (or the lead aged).

`crossings` is pure (the API's `GET /v1/nurture` and the report's section call it);
`read_nurture` reads what it needs from the scoring-log database in one bounded call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadscore.scoring.events_store import EventStore, EventsUnavailable, lead_activity
from leadscore.scoring.log_health import short_error
from leadscore.scoring.log_table import scored_leads
from leadscore.scoring.outcome_store import TRANSIENT, chunks
from leadscore.scoring.outcomes import naive_utc

INTO_A, OUT_OF_A = "into_A", "out_of_A"
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Scoring:
    """One row of the scoring log, as the view reads it (naive UTC time)."""

    lead_id: str
    scored_at: datetime
    score: int
    grade: str


@dataclass(frozen=True)
class Touch:
    """One activity event of a lead (naive UTC time)."""

    event_id: str
    occurred_at: datetime
    event_type: str
    event_value: float | None = None


@dataclass(frozen=True)
class Crossing:
    lead_id: str
    direction: str  # INTO_A or OUT_OF_A
    previous: Scoring
    current: Scoring
    events: list[Touch] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """As JSON (the API's item and the report's row)."""
        return {
            "lead_id": self.lead_id,
            "direction": self.direction,
            "previous_grade": self.previous.grade,
            "grade": self.current.grade,
            "previous_score": self.previous.score,
            "score": self.current.score,
            "previous_scored_at": self.previous.scored_at.isoformat(),
            "scored_at": self.current.scored_at.isoformat(),
            "events": [
                {
                    "event_id": e.event_id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "event_type": e.event_type,
                    "event_value": e.event_value,
                }
                for e in self.events
            ],
        }


def crossings(
    scorings: Iterable[Scoring],
    touches: Mapping[str, Sequence[Touch]],
    since: datetime,
    until: datetime,
) -> list[Crossing]:
    """Every crossing into or out of A whose later scoring falls in (since, until], newest
    first (then by lead id), with the events between its two scores (oldest first)."""
    by_lead: dict[str, list[Scoring]] = {}
    for row in sorted(scorings, key=lambda r: (r.lead_id, r.scored_at)):
        by_lead.setdefault(row.lead_id, []).append(row)
    found = []
    for lead_id, rows in by_lead.items():
        for previous, current in zip(rows, rows[1:], strict=False):
            if not since < current.scored_at <= until:
                continue
            if (previous.grade == "A") == (current.grade == "A"):
                continue
            moved = sorted(
                (
                    t
                    for t in touches.get(lead_id, ())
                    if previous.scored_at <= t.occurred_at < current.scored_at
                ),
                key=lambda t: (t.occurred_at, t.event_id),
            )
            direction = INTO_A if current.grade == "A" else OUT_OF_A
            found.append(Crossing(lead_id, direction, previous, current, moved))
    return sorted(found, key=lambda c: (-c.current.scored_at.timestamp(), c.lead_id))


def read_nurture(
    connection: sa.Connection, since: datetime
) -> tuple[list[Scoring], dict[str, list[Touch]]]:
    """The scorings of the leads scored after `since` (with their earlier ones) and their
    activity events from their earliest scoring on. Tables not created yet read as empty."""
    names = set(sa.inspect(connection).get_table_names())
    if scored_leads.name not in names:
        return [], {}
    log = scored_leads.c
    recent = sa.select(log.lead_id).where(log.scored_at > since).distinct()
    query = sa.select(log.lead_id, log.scored_at, log.score, log.grade).where(
        log.lead_id.in_(recent)
    )
    scorings = [
        Scoring(r.lead_id, naive_utc(r.scored_at) or since, int(r.score), r.grade)
        for r in connection.execute(query)
    ]
    touches: dict[str, list[Touch]] = {}
    if lead_activity.name not in names or not scorings:
        return scorings, touches
    start = min(s.scored_at for s in scorings)
    column = lead_activity.c
    for part in chunks(sorted({s.lead_id for s in scorings})):
        query = sa.select(
            column.event_id, column.lead_id, column.occurred_at, column.event_type,
            column.event_value,
        ).where(column.lead_id.in_(part), column.occurred_at >= start)  # fmt: skip
        for r in connection.execute(query):
            touch = Touch(r.event_id, r.occurred_at, r.event_type, r.event_value)
            touches.setdefault(r.lead_id, []).append(touch)
    return scorings, touches


def period(until: datetime, days: int) -> tuple[datetime, datetime]:
    """(since, until) in naive UTC for the last `days` days up to `until`."""
    end = naive_utc(until) or until
    return end - timedelta(days=days), end


def nurture_of(store: EventStore, until: datetime, days: int) -> list[Crossing]:
    """The crossings of the last `days` days up to `until`, read from the store's database
    (bounded by its timeouts; `EventsUnavailable` when it cannot answer)."""
    since, end = period(until, days)
    try:
        with store.engine.connect() as connection:
            scorings, touches = read_nurture(connection, since)
    except TRANSIENT as error:
        raise EventsUnavailable(short_error(error)) from None
    return crossings(scorings, touches, since, end)
