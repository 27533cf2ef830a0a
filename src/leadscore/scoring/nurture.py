"""The nurture view read from the scoring-log database (issue 30): `read_nurture` reads the
scorings and activity events it needs in one bounded call; `scoring/crossings.py` holds the
records and the rule of a crossing into or out of A.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from leadscore.scoring.crossings import Crossing, Scoring, Touch, crossings
from leadscore.scoring.events_store import EventStore, EventsUnavailable, lead_activity
from leadscore.scoring.log_health import short_error
from leadscore.scoring.log_table import scored_leads
from leadscore.scoring.outcome_store import TRANSIENT, chunks
from leadscore.scoring.outcomes import naive_utc

DEFAULT_DAYS = 7


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
