"""The nurture view's crossings (issue 30): the leads whose grade crossed into A, or out of it,
and the activity events that moved them. Pure: the records and the rule, no database.

A crossing is two consecutive scorings of a lead in the scoring log, the later one within the
period, one graded A and the other not. The events that moved it are the lead's activity events
between the two scores: at or after the earlier scoring moment and strictly before the later
one (behaviour counts only events strictly before the moment of scoring, so these are exactly
the events the later score saw and the earlier did not). A crossing without such events was
moved by time alone: the engagement decayed (or the lead aged).

`scoring/nurture.py` reads the scorings and events from the scoring-log database; the API's
`GET /v1/nurture` and the report's section show what `crossings` finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INTO_A, OUT_OF_A = "into_A", "out_of_A"


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
