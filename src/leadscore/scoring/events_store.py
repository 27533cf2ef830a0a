"""Storing a lead's activity events (emails opened, pages visited, demos requested) on the
scoring-log database, so a lead's behaviour can be computed as of any moment
(leadscore.data.behaviour).

`POST /v1/events` appends events: one transaction per request, idempotent by event id (the
same id with the same payload is a duplicate, counted once; with another payload a conflict,
and nothing of the request is stored). Like the outcome events (leadscore.scoring.outcome_store)
they are answered only once committed: a journal would answer before the database could refuse
an event id already stored with another payload. Every call is bounded by the engine's
timeouts; a database that cannot take the events raises `EventsUnavailable` (the service
answers 503 with `Retry-After`, and the marketing system sends them again).
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from leadscore.core.errors import LeadscoreError
from leadscore.data import behaviour
from leadscore.scoring.event_histories import History, grouped_rows, merged_histories
from leadscore.scoring.log_health import short_error
from leadscore.scoring.log_table import make_engine
from leadscore.scoring.outcome_store import TRANSIENT, Writers, chunks
from leadscore.scoring.outcomes import naive_utc, plausible, utc_now

log = logging.getLogger(__name__)

TABLE = "lead_activity"
MAX_EVENTS = 1_000  # per request
RETRY_AFTER_SECONDS = 5
READERS, READ_BACKLOG = 4, 256  # threads reading histories for POST /v1/score, queued reads
T = TypeVar("T")

metadata = sa.MetaData()
lead_activity = sa.Table(
    TABLE,
    metadata,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("lead_id", sa.String(200), nullable=False, index=True),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("event_value", sa.Float, nullable=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
)


class ActivityEvent(BaseModel):
    """One activity event of a lead, as the marketing system sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=200, description="unique per event")
    lead_id: str = Field(min_length=1, max_length=200)
    occurred_at: datetime = Field(description="when it happened (ISO 8601; naive = UTC)")
    event_type: str = Field(min_length=1, max_length=100, description="e.g. email_open")
    event_value: float | None = Field(None, allow_inf_nan=False)

    @field_validator("event_id", "lead_id", "event_type")
    @classmethod
    def _stripped(cls, value: str) -> str:
        value = value.strip()
        if not value or "\x00" in value:
            raise ValueError("must hold text (no NUL byte)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (a lone surrogate)") from None
        return value

    @field_validator("occurred_at")
    @classmethod
    def _plausible_utc(cls, moment: datetime, info: ValidationInfo) -> datetime:
        """As outcome events: naive UTC, from 1990 to now (plus the clock skew)."""
        try:
            utc = naive_utc(moment)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None
        assert utc is not None
        return plausible(utc, info.context)

    def row(self) -> dict[str, Any]:
        """The stored payload: the type as behaviour reads it (stripped, lower-case)."""
        return {
            "event_id": self.event_id,
            "lead_id": self.lead_id,
            "occurred_at": naive_utc(self.occurred_at),
            "event_type": self.event_type.lower(),
            "event_value": self.event_value,
        }


class ActivityBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[ActivityEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsUnavailable(LeadscoreError):
    """The database could not take the events now: nothing is answered as stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"activity events cannot be stored now ({reason}); send them again")
        self.retry_after = RETRY_AFTER_SECONDS


class EventConflict(LeadscoreError):
    """Event ids already stored (or repeated in the request) with a different payload."""

    def __init__(self, event_ids: list[str]) -> None:
        shown = ", ".join(event_ids[:10]) + (" ..." if len(event_ids) > 10 else "")
        super().__init__(
            f"event id(s) {shown} already stored (or sent earlier in this request) with a "
            "different payload; nothing of this request was stored"
        )
        self.event_ids = event_ids


@dataclass(frozen=True)
class Appended:
    received: int
    stored: int  # new events
    duplicates: int  # event ids already stored (or repeated) with the same payload


def same_payload(row: dict[str, Any], stored: dict[str, Any]) -> bool:
    """The same event: lead, moment, type and value (a replay, not a new event)."""
    return (
        row["lead_id"] == stored["lead_id"]
        and naive_utc(row["occurred_at"]) == naive_utc(stored["occurred_at"])
        and row["event_type"] == stored["event_type"]
        and row["event_value"] == stored["event_value"]
    )


def unique_rows(events: Iterable[ActivityEvent]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each event id once; ids repeated with a different payload are conflicts."""
    first: dict[str, dict[str, Any]] = {}
    conflicts = []
    for event in events:
        row = event.row()
        seen = first.setdefault(event.event_id, row)
        if seen is not row and not same_payload(row, seen):
            conflicts.append(event.event_id)
    return first, conflicts


def append_events(connection: sa.Connection, events: list[ActivityEvent], source: str) -> Appended:
    """Check the events against the stored ones and insert the new ones (in the caller's
    transaction). Raises `EventConflict`, storing nothing."""
    rows, conflicts = unique_rows(events)
    stored: dict[str, dict[str, Any]] = {}
    for part in chunks(list(rows)):
        query = sa.select(lead_activity).where(lead_activity.c.event_id.in_(part))
        stored.update({r["event_id"]: dict(r) for r in connection.execute(query).mappings()})
    conflicts += [i for i, row in stored.items() if not same_payload(rows[i], row)]
    if conflicts:
        raise EventConflict(sorted(set(conflicts)))
    received = utc_now()
    new = [
        {**row, "source": source, "received_at": received}
        for event_id, row in rows.items()
        if event_id not in stored
    ]
    if new:
        connection.execute(lead_activity.insert(), new)
    return Appended(received=len(events), stored=len(new), duplicates=len(events) - len(new))


EVENT_KEYS = ("event_id", "lead_id", "occurred_at", "event_type", "event_value")
# one statement for every read of leads' events (built and compiled once, not per request)
EVENTS_OF_LEADS = sa.select(*(lead_activity.c[key] for key in EVENT_KEYS)).where(
    lead_activity.c.lead_id.in_(sa.bindparam("leads", expanding=True))
)


# the one-lead path's read: one row per lead, its events as one JSON array of [event id,
# occurred at, type]. A row per event would cost a GIL hand-over per row (the driver releases
# it at each step), and with the event loop busy each hand-over can wait a switch interval.
_HISTORY_ITEM = (lead_activity.c.event_id, lead_activity.c.occurred_at, lead_activity.c.event_type)
_AGGREGATES: dict[str, Callable[[], Any]] = {
    "sqlite": lambda: sa.func.json_group_array(sa.func.json_array(*_HISTORY_ITEM)),
    "postgresql": lambda: sa.func.json_agg(sa.func.json_build_array(*_HISTORY_ITEM)),
}


def histories_statement(dialect: str, leads: Any) -> sa.Select[tuple[str, Any]]:
    """Each lead's stored events in one row (`dialect`: one of `_AGGREGATES`); `leads`: what
    `lead_id IN` takes (bound parameters)."""
    return (
        sa.select(lead_activity.c.lead_id, _AGGREGATES[dialect]())
        .where(lead_activity.c.lead_id.in_(leads))
        .group_by(lead_activity.c.lead_id)
    )


class HistoriesRead:
    """`histories_statement` rendered once per number of leads and run as the driver's own
    SQL: for one lead, SQLAlchemy's statement machinery cost more than the read itself. Made
    only for the dialects in `_AGGREGATES` (`EventStore` reads row by row on the others)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self._rendered: dict[int, tuple[str, list[str] | None]] = {}

    def rows(self, connection: sa.Connection, leads: list[str]) -> list[tuple[str, Any]]:
        sql, order = self._rendered.get(len(leads)) or self._render(len(leads))
        values = {f"lead_{i}": lead for i, lead in enumerate(leads)}
        params = values if order is None else tuple(values[name] for name in order)
        return [(row[0], row[1]) for row in connection.exec_driver_sql(sql, params)]

    def _render(self, n: int) -> tuple[str, list[str] | None]:
        names: list[sa.BindParameter[str]] = [sa.bindparam(f"lead_{i}") for i in range(n)]
        statement = histories_statement(self.dialect.name, names)
        compiled = statement.compile(dialect=self.dialect)
        order = list(compiled.positiontup or ()) if compiled.positional else None
        self._rendered[n] = (compiled.string, order)
        return self._rendered[n]


class EventStore:
    """The activity events on the scoring-log database (`lead_activity`)."""

    def __init__(self, url: str, timeout_seconds: float = 3.0) -> None:
        self.timeout_seconds = timeout_seconds
        self.engine = make_engine(url, timeout_seconds)
        dialect = self.engine.dialect
        self._histories = HistoriesRead(dialect) if dialect.name in _AGGREGATES else None
        self._schema_ready = False
        self._readers: Writers | None = None

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            metadata.create_all(self.engine)
            self._schema_ready = True

    def append(self, events: list[ActivityEvent], source: str = "api") -> Appended:
        """Store the events in one transaction (see the module docstring)."""
        try:
            self._ensure_schema()
            with self.engine.begin() as connection:
                done = append_events(connection, events, source)
        except TRANSIENT as error:
            log.warning("activity events not stored: %s", short_error(error))
            raise EventsUnavailable(short_error(error)) from None
        log.info("activity events: %d received, %d new", done.received, done.stored)
        return done

    def events_of(
        self, lead_ids: Iterable[str], sent: Iterable[ActivityEvent] = ()
    ) -> pd.DataFrame:
        """The stored events of these leads, with `sent` ones (e.g. in a score request) not
        stored yet (an event id counts once), in the normal form of leadscore.data.behaviour:
        what a lead's behaviour as of now is computed from."""
        found = self._rows_of(lead_ids, sent)
        rows = [
            (r["lead_id"], r["occurred_at"], r["event_type"], r["event_value"])
            for r in found.values()
        ]
        frame = pd.DataFrame(rows, columns=list(behaviour.EVENT_COLUMNS))
        frame[behaviour.EVENT_AT] = pd.to_datetime(frame[behaviour.EVENT_AT])
        return behaviour.normalise_events(frame)

    def _rows_of(
        self, lead_ids: Iterable[str], sent: Iterable[ActivityEvent]
    ) -> dict[str, dict[str, Any]]:
        """The stored event rows of these leads by event id, then the `sent` ones not stored
        (an event id counts once: the stored one)."""
        self._ensure_schema()
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for part in chunks(sorted(set(lead_ids))):
                for row in connection.execute(EVENTS_OF_LEADS, {"leads": part}):
                    found[row[0]] = dict(zip(EVENT_KEYS, row, strict=True))
        for event in sent:
            found.setdefault(event.event_id, event.row())
        return found

    def histories(
        self, lead_ids: Iterable[str], sent: Iterable[ActivityEvent] = ()
    ) -> dict[str, History]:
        """`events_of` for the one-lead path: each lead's events as plain values (a lead with
        none is absent). Bounded by the engine's timeouts; raises `EventsUnavailable`."""
        try:
            sent_rows = (event.row() for event in sent)
            return merged_histories(self._stored_histories(lead_ids), sent_rows)
        except TRANSIENT as error:
            log.warning("activity events not read: %s", short_error(error))
            raise EventsUnavailable(short_error(error)) from None

    def _stored_histories(self, lead_ids: Iterable[str]) -> list[tuple[str, Any]]:
        """The leads' stored events, a row per lead (`histories_statement`; on a database
        without JSON aggregates, grouped here from a row per event)."""
        if self._histories is None:
            return grouped_rows(self._rows_of(lead_ids, ()).values())
        self._ensure_schema()
        with self.engine.connect() as connection:
            return [
                row
                for part in chunks(sorted(set(lead_ids)))
                for row in self._histories.rows(connection, part)
            ]

    async def bounded(self, job: Callable[[], T]) -> T:
        """A read of the database (`job`) off the event loop, answered within
        `timeout_seconds` or `EventsUnavailable`: a frozen database holds a reader thread,
        never the service; with every reader stuck and the queue full, refused at once."""
        if self._readers is None:
            self._readers = Writers(READERS, READ_BACKLOG)
        try:
            future = self._readers.submit(job)
        except queue.Full:
            raise EventsUnavailable("every reader is waiting on the database") from None
        try:
            async with asyncio.timeout(self.timeout_seconds):  # lighter than wait_for's task
                return cast(T, await asyncio.wrap_future(future))
        except TimeoutError:
            log.error("activity events: no answer within %g s", self.timeout_seconds)
            raise EventsUnavailable(
                f"the database did not answer within {self.timeout_seconds:g} s"
            ) from None

    async def histories_async(
        self, lead_ids: list[str], sent: list[ActivityEvent]
    ) -> dict[str, History]:
        """`histories`, bounded (`bounded`)."""
        return await self.bounded(lambda: self.histories(lead_ids, sent))

    def close(self) -> None:
        if self._readers is not None:
            self._readers.stop()
        self.engine.dispose()
