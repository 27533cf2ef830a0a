"""Storing outcome events: one transaction per request or import, answered in bounded time.

An event is answered 2xx only once its transaction is committed in the scoring-log database,
where it was checked against the events already stored (conflicting payloads, the lead's known
creation, contradictions). When the database cannot take it within `timeout_seconds` (stopped,
frozen, locked, read-only), the caller gets `OutcomesUnavailable` (the service answers 503 with
`Retry-After`) and the CRM sends the events again: they are idempotent by event id, so a retry
of an event whose late commit went through after all is a duplicate, never a second row.

Outcomes do not go through the scoring journal: a journal answers before the database has
seen the event, so it could not refuse an event id already stored with a different payload.

The database work runs on a few writer threads, off the caller's thread: a request waits at
most `timeout_seconds` for its answer (queued or running; one that gave up while queued is never
run), and once `backlog` requests wait (every writer stuck on a database that does not answer),
new ones are refused at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadscore.core.errors import LeadscoreError
from leadscore.scoring.log_health import short_error
from leadscore.scoring.log_table import TABLE as SCORED_TABLE
from leadscore.scoring.log_table import make_engine
from leadscore.scoring.outcomes import (
    OutcomeEvent,
    contradictory_leads,
    lead_events,
    metadata,
    naive_utc,
    never_scored,
    same_event,
    utc_now,
)

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0
WRITERS = 4
BACKLOG = 64  # requests waiting for a writer; beyond, 503 at once
CHUNK = 500  # ids per IN (...) list
# The database cannot take the events now (down, frozen, locked, read-only, out of resources):
# the same events may succeed later. Anything else is a bug and is raised as it is.
TRANSIENT = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.InternalError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
)

ScoredLookup = Callable[[list[str]], Iterable[str]]  # leads known scored, of these


class OutcomesUnavailable(LeadscoreError):
    """The database could not take the events in time: nothing is answered as stored."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(f"outcome events cannot be stored now ({reason}); send them again")
        self.retry_after = retry_after


class OutcomeConflict(LeadscoreError):
    """Event ids already stored (or repeated in the batch) with a different payload."""

    def __init__(self, event_ids: list[str]) -> None:
        more = len(event_ids) - 10
        shown = ", ".join(event_ids[:10]) + (f" and {more} more" if more > 0 else "")
        super().__init__(
            f"event id(s) {shown} already stored (or sent earlier in this batch) with a "
            "different payload; an event id names one event (send a new id for a new event); "
            "nothing of this batch was stored"
        )
        self.event_ids = event_ids


@dataclass
class EventProblem:
    index: int  # position of the event in its batch
    field: str
    message: str


class OutcomeRefused(LeadscoreError):
    """Events that contradict what is stored about their lead (e.g. before its creation)."""

    def __init__(self, problems: list[EventProblem]) -> None:
        first = problems[0]
        super().__init__(f"event {first.index}: {first.field}: {first.message}")
        self.problems = problems


@dataclass
class Stored:
    """What became of a batch: counts, and the leads to look at."""

    received: int
    stored: int  # new events
    duplicates: int  # event ids already stored with the same payload (counted once)
    never_scored: list[str] = field(default_factory=list)  # leads the log never scored
    contradictory: list[str] = field(default_factory=list)  # won and lost, or two wins


def bound_time(engine: sa.Engine, seconds: float) -> sa.Engine:
    """Connect, statement and lock timeouts on every new connection of `engine`."""
    millis = max(1, int(seconds * 1000))
    if engine.dialect.name == "postgresql":

        @sa.event.listens_for(engine, "do_connect")
        def _timeouts(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
            params.setdefault("connect_timeout", max(2, math.ceil(seconds)))  # libpq: >= 2 s
            limits = f"-c statement_timeout={millis} -c lock_timeout={millis}"
            params["options"] = f"{params.get('options', '')} {limits}".strip()

    elif engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _busy(connection: Any, _record: Any) -> None:
            connection.execute(f"PRAGMA busy_timeout={millis}")

    return engine


def chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def unique_in_batch(events: list[OutcomeEvent]) -> tuple[dict[str, OutcomeEvent], list[str]]:
    """Each event id once; ids repeated with a different payload are conflicts."""
    first: dict[str, OutcomeEvent] = {}
    conflicts = []
    for event in events:
        seen = first.setdefault(event.event_id, event)
        if seen is not event and seen.payload() != event.payload():
            conflicts.append(event.event_id)
    return first, conflicts


def stored_rows(connection: sa.Connection, event_ids: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for part in chunks(event_ids):
        query = sa.select(lead_events).where(lead_events.c.event_id.in_(part))
        for row in connection.execute(query).mappings():
            found[row["event_id"]] = dict(row)
    return found


def known_creations(connection: sa.Connection, events: list[OutcomeEvent]) -> dict[str, datetime]:
    """The earliest creation known of each lead: stored with its events, or in this batch."""
    column = lead_events.c
    stamps = [(event.lead_id, event.lead_created_at) for event in events]
    for part in chunks(sorted({event.lead_id for event in events})):
        query = (
            sa.select(column.lead_id, sa.func.min(column.lead_created_at))
            .where(column.lead_id.in_(part))
            .group_by(column.lead_id)
        )
        stamps += [(lead, naive_utc(stamp)) for lead, stamp in connection.execute(query)]
    created: dict[str, datetime] = {}
    for lead, stamp in stamps:
        if stamp is not None:
            created[lead] = min(created.get(lead, stamp), stamp)
    return created


def before_creation(
    events: list[OutcomeEvent], created: dict[str, datetime], stored: Iterable[str] = ()
) -> list[EventProblem]:
    """New events (not in `stored`) dated before their lead's creation."""
    problems, known = [], set(stored)
    for index, event in enumerate(events):
        start = created.get(event.lead_id)
        if start is not None and event.occurred_at < start and event.event_id not in known:
            message = f"before the lead's creation ({start.isoformat()}, recorded with its events)"
            problems.append(EventProblem(index, "occurred_at", message))
    return problems


def insert_new(connection: sa.Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows whose event id is not in the table yet; the ids actually inserted."""
    if not rows:
        return set()
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(lead_events).on_conflict_do_nothing()
    statement = statement.returning(lead_events.c.event_id)
    return set(connection.scalars(statement, rows))


def scored_in_table(connection: sa.Connection, leads: list[str]) -> set[str]:
    if not sa.inspect(connection).has_table(SCORED_TABLE):
        return set()
    table = sa.table(SCORED_TABLE, sa.column("lead_id"))
    found: set[str] = set()
    for part in chunks(leads):
        query = sa.select(table.c.lead_id).where(table.c.lead_id.in_(part)).distinct()
        found.update(connection.scalars(query))
    return found


def lead_outcomes(connection: sa.Connection, leads: list[str]) -> list[str]:
    """Those of these leads whose stored won/lost events contradict each other."""
    column = lead_events.c
    found: list[tuple[str, str, float | None]] = []
    for part in chunks(leads):
        query = sa.select(column.lead_id, column.kind, column.value).where(
            column.lead_id.in_(part), column.kind.in_(("won", "lost"))
        )
        found.extend(connection.execute(query).tuples())
    return contradictory_leads(found)


def store_events(
    connection: sa.Connection,
    events: list[OutcomeEvent],
    source: str,
    scored: ScoredLookup | None = None,
) -> Stored:
    """Check the events against the stored ones and insert the new ones (in the caller's
    transaction). Raises `OutcomeConflict` or `OutcomeRefused`, storing nothing."""
    batch, conflicts = unique_in_batch(events)
    stored = stored_rows(connection, list(batch))
    conflicts += [i for i, row in stored.items() if not same_event(batch[i], row)]
    if conflicts:
        raise OutcomeConflict(sorted(set(conflicts)))
    problems = before_creation(events, known_creations(connection, events), stored)
    if problems:
        raise OutcomeRefused(problems)
    received = utc_now()
    new = [
        {**event.model_dump(), "received_at": received, "source": source}
        for event_id, event in batch.items()
        if event_id not in stored
    ]
    inserted = insert_new(connection, new)
    raced = [row["event_id"] for row in new if row["event_id"] not in inserted]
    if raced:  # stored meanwhile by another request: the same event, or a conflict
        again = stored_rows(connection, raced)
        conflicts = [i for i in raced if not same_event(batch[i], again[i])]
        if conflicts:
            raise OutcomeConflict(sorted(conflicts))
    leads = sorted({event.lead_id for event in events})
    unscored = never_scored(leads, scored_in_table(connection, leads))
    if unscored and scored is not None:  # scored moments ago, still on its way to the table
        unscored = never_scored(unscored, scored(unscored))
    return Stored(
        received=len(events),
        stored=len(inserted),
        duplicates=len(events) - len(inserted),
        never_scored=unscored,
        contradictory=lead_outcomes(connection, leads),
    )


class Writers:
    """A few daemon threads that run jobs from a bounded queue.

    Daemon threads: one stuck on a frozen database never holds up the process's exit. A job
    still queued when its caller gave up is cancelled and skipped; when the queue is full
    (every writer stuck, callers piling up), `submit` refuses at once."""

    def __init__(self, count: int, backlog: int) -> None:
        self._jobs: queue.Queue[tuple[Future[Any], Callable[[], Any]] | None] = queue.Queue(backlog)
        self._threads = [
            threading.Thread(target=self._work, name=f"outcomes-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        """Queue `job`; raises `queue.Full` when the backlog is full."""
        future: Future[Any] = Future()
        self._jobs.put_nowait((future, job))
        return future

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up while it waited
            try:
                future.set_result(job())
            except BaseException as error:
                future.set_exception(error)

    def stop(self) -> None:
        """Let idle writers end (a stuck one ends when its database answers)."""
        for _ in self._threads:
            with contextlib.suppress(queue.Full):
                self._jobs.put_nowait(None)


class OutcomeStore:
    """The `lead_events` table of the scoring-log database, written in bounded time."""

    def __init__(
        self,
        url: str,
        timeout_seconds: float = TIMEOUT_SECONDS,
        writers: int = WRITERS,
        backlog: int = BACKLOG,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.retry_after = max(1, math.ceil(2 * timeout_seconds))
        self.engine = bound_time(make_engine(url), timeout_seconds)
        self._writers = Writers(writers, backlog)
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    def submit(
        self, events: list[OutcomeEvent], source: str, scored: ScoredLookup | None = None
    ) -> Future[Stored]:
        """Queue the events for a writer; refused at once when the backlog is full."""
        try:
            return self._writers.submit(lambda: self._store(events, source, scored))
        except queue.Full:
            raise OutcomesUnavailable(
                "every writer is waiting on the database", self.retry_after
            ) from None

    def _ensure_schema(self) -> None:
        """Create `lead_events` once (another writer or process may create it meanwhile)."""
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                metadata.create_all(self.engine)
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                metadata.create_all(self.engine)  # created concurrently: now it is there
            self._schema_ready = True

    def _store(
        self, events: list[OutcomeEvent], source: str, scored: ScoredLookup | None
    ) -> Stored:
        try:
            self._ensure_schema()
            with self.engine.begin() as connection:
                return store_events(connection, events, source, scored)
        except TRANSIENT as error:
            log.error("outcomes: the database cannot take events now (%s)", short_error(error))
            cause = getattr(error, "orig", None) or error
            raise OutcomesUnavailable(
                f"database unavailable: {type(cause).__name__}", self.retry_after
            ) from None

    def _late(self) -> OutcomesUnavailable:
        log.error("outcomes: the database did not answer within %g s", self.timeout_seconds)
        return OutcomesUnavailable(
            f"the database did not answer within {self.timeout_seconds:g} s", self.retry_after
        )

    def record(
        self, events: list[OutcomeEvent], source: str = "import", scored: ScoredLookup | None = None
    ) -> Stored:
        """Store the events, or raise within `timeout_seconds`."""
        future = self.submit(events, source, scored)
        try:
            return future.result(self.timeout_seconds)
        except FutureTimeout:
            future.cancel()
            raise self._late() from None

    async def record_async(
        self, events: list[OutcomeEvent], source: str = "api", scored: ScoredLookup | None = None
    ) -> Stored:
        """`record` for the event loop: waits for the writer without blocking the loop."""
        future = self.submit(events, source, scored)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_seconds)
        except TimeoutError:
            raise self._late() from None

    def close(self) -> None:
        """Stop the writers and release the connections (a writer stuck on a frozen database
        finishes or fails on its own)."""
        self._writers.stop()
        self.engine.dispose()
