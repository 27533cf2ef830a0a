"""The scoring log: every scored lead, so monthly feedback can join outcomes to it later.

One table, `scored_leads`, in SQLite by default (`data/scoring_log.db`) or any SQLAlchemy URL
(PostgreSQL: `postgresql+psycopg://user:pass@host/db`).

No answered lead is lost: `record` returns only once the rows are durable in the local journal
(`leadscore.scoring.journal`: group commit, one `fdatasync` shared by concurrent requests). A
background writer ships the journal into the table in batches; the database is never on the
request path (start-up included: the writer makes the first contact). While the database cannot
take rows (down, frozen, read-only, locked, out of resources: `leadscore.scoring.database`),
rows wait in the journal ("spilled"), health turns red, and the writer retries with a backoff
and a write probe, and replays them as soon as it can write again. Every call is bounded by the
engine's timeouts; a call running past them (a server whose processes are stopped) turns health
red too. Journals left by a process that died are replayed by the next one, or on demand with
`leadscore scoring-log replay`. Each row carries a unique entry id and the table ignores ids it
already holds, so replaying twice never logs a lead twice. Only a row the database refuses for
its values (a data error, while the rest of its batch is fine) is set aside in the journal's
dead-letter file `rejected.jsonl` with the reason; `leadscore scoring-log replay` ships it
after a fix. A journal ships only to the database it records (`destination.json`). Only when
the journal *and* the database both fail does `record` raise `ScoringLogUnavailable` (the
service answers 503): it never answers for a lead it could not keep.

The score trend comes from an in-memory index the writer keeps (`leadscore.scoring.trend`,
followed from the table by `leadscore.scoring.trend_follower`). The shipping is
`leadscore.scoring.log_shipper`, the health and counters `leadscore.scoring.log_health`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadscore.core.redact import redact
from leadscore.scoring.backlog import Backlog
from leadscore.scoring.database import (
    DEFAULT_TIMEOUT_SECONDS,
    default_journal_dir,
    destination_of,
    is_sqlite_file,
)
from leadscore.scoring.journal import JournalError, JournalWriter, Row
from leadscore.scoring.journal_files import (
    adopt_orphans,
    claim_destination,
    dead_letter_rows,
    rework_dead_letters,
)
from leadscore.scoring.log_health import (
    HEALTHY_STATES,
    DatabaseHealth,
    DeadLetterCount,
    LogStats,
    short_error,
)
from leadscore.scoring.log_shipper import JournalShipper
from leadscore.scoring.log_table import ensure_schema, latest_scores, make_engine, write_entries
from leadscore.scoring.trend import TREND_LEADS, LatestScores, PreviousScores
from leadscore.scoring.trend_follower import TrendFollower

log = logging.getLogger(__name__)


class ScoringLogUnavailable(RuntimeError):
    """Neither the journal nor the database could keep the rows."""


def journal_dir_for(url: str) -> Path:
    """Where the journal lives: beside a SQLite file, else one directory per database under
    `$XDG_STATE_HOME/leadscore/journals` (`leadscore.scoring.database.default_journal_dir`)."""
    return default_journal_dir(url)


@dataclass
class ScoringLog:
    """Durable scoring log: `record` returns once rows are journaled; a thread ships them."""

    url: str
    journal_dir: Path | None = None
    batch_size: int = 500
    flush_seconds: float = 0.2
    sync: bool = True
    max_retry_seconds: float = 2.0
    write_journal: bool = True  # False: only replay what ended processes left
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # connect, statement and lock timeouts
    trend_leads: int = TREND_LEADS  # leads the trend index keeps (0: no index)
    probe_seconds: float = 5.0  # an idle writer checks the database takes writes this often
    claim: bool = False  # adopt a journal that does not record its database (replay --claim)
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self._directory = Path(self.journal_dir or journal_dir_for(self.url))
        self.journal_dir = self._directory
        self.destination = destination_of(self.url)
        self._health = DatabaseHealth(self.timeout_seconds, self.stats)
        usable = self._claim_journal()
        self._engine = make_engine(self.url, self.timeout_seconds)  # no connection made here
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closing = False
        self._dead_letters = DeadLetterCount(self._directory)
        self.backlog = Backlog()
        self._latest = LatestScores(self.trend_leads)
        self._journal: JournalWriter | None = None
        if usable:
            self._open_journal()
        own = self._journal.token if self._journal else None
        self._shipper = JournalShipper(
            self._directory,
            self.destination.name,
            self._engine,
            self._health,
            self.backlog,
            self.batch_size,
            journal=self._journal,
            adopted=adopt_orphans(self._directory, own) if usable else [],
        )
        self._trends = TrendFollower(
            self._engine,
            self._latest,
            self.trend_leads,
            self._shipper.calling,
            self._health.note_error,
            own_prefix=f"{own}:" if own is not None else None,
        )
        if self._shipper.adopted:
            found = self._shipper.count_spilled()
            self.backlog.add(found, self._shipper.oldest_adopted())
            log.warning(
                "scoring log: %d rows left in the journal by an ended process; replaying them",
                found,
            )
        self._thread = threading.Thread(target=self._run, name="scoring-log", daemon=True)
        self._thread.start()

    def _claim_journal(self) -> bool:
        """Claim the journal directory for this database; False when there is no journal."""
        beside_the_file = is_sqlite_file(self.url) and (
            self._directory.resolve() == journal_dir_for(self.url)
        )  # a SQLite file's own journal: rows there can only be that file's
        try:  # another database's journal raises JournalDestinationError: never shipped
            claim_destination(
                self._directory,
                self.destination.name,
                self.destination.fingerprint,
                self.claim or beside_the_file,
            )
        except OSError as error:  # no journal at all: rows go straight to the database
            self._no_journal(error)
            return False
        return True

    def _open_journal(self) -> None:
        if not self.write_journal:
            return
        try:
            self._journal = JournalWriter(self._directory, self.sync, on_durable=self.backlog.add)
        except OSError as error:
            self._no_journal(error)

    def _no_journal(self, error: OSError) -> None:
        self._health.note_error(f"journal unavailable: {short_error(error)}")
        log.error("scoring log: no journal at %s (%s); writing straight to the database",
                  self._directory, short_error(error))  # fmt: skip

    # --- health, read from memory ----------------------------------------------------------

    @property
    def state(self) -> str:
        """`ok`, `connecting` (no answer from the database yet), `database-failing` (it
        refuses writes: rows wait in the journal), `database-not-answering` (a call runs past
        the timeout) or `journal-failing`."""
        journal_failing = self.write_journal and (
            self._journal is None or bool(self._journal.last_error)
        )
        return self._health.state(journal_failing)

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_STATES

    @property
    def dead_letters(self) -> int:
        """Rows waiting in the dead-letter file (`log_health.DeadLetterCount`)."""
        return self._dead_letters.rows()

    # --- the request side ----------------------------------------------------------------

    def previous(self, lead_ids: Iterable[str]) -> PreviousScores:
        """The latest logged (score, grade) of each lead, from memory only (never the
        database): rows recorded by this process, and the table as the writer read it.
        `complete` is False while the index cannot tell a new lead from one it does not hold."""
        return self._latest.lookup(dict.fromkeys(lead_ids))

    def previous_logged(self, lead_ids: Iterable[str]) -> PreviousScores:
        """`previous`, completed from the table for leads the index does not hold (batch
        scoring, off any request path; each query bounded by the timeouts). When the table
        cannot be read, those leads' trend is unknown."""
        wanted = list(dict.fromkeys(lead_ids))
        known = self._latest.lookup(wanted)
        missing = [lead for lead in wanted if lead not in known.found]
        if not missing or known.complete:
            return known
        if self._health.failing:
            return PreviousScores(known.found, complete=False)
        try:
            self._ensure_table()  # a new database: no table, no lead scored before
            return PreviousScores(known.found | latest_scores(self._engine, missing))
        except sa.exc.SQLAlchemyError as error:
            self._health.note_error(f"previous scores unavailable: {short_error(error)}")
            return PreviousScores(known.found, complete=False)

    def _ensure_table(self) -> None:
        """Create the table on a new database the writer has not reached yet (raises what the
        database raises)."""
        if not self._health.schema_ready:
            ensure_schema(self._engine)

    def _remember(self, rows: list[Row]) -> None:
        # COLUMNS order: lead_id, scored_at, probability, score, grade, ...
        self._latest.remember((row[0], row[3], row[4]) for row in rows)

    def record(self, rows: list[Row], entry_ids: Iterable[str] | None = None) -> None:
        """Return once `rows` are durable; raise `ScoringLogUnavailable` if they cannot be."""
        if not rows:
            return
        if self._journal is not None:
            try:
                self._journal.append(rows, entry_ids)
                self._remember(rows)
                return
            except JournalError as error:
                reason = str(error)
        else:
            reason = "journal unavailable"
        self._write_direct(rows, entry_ids, reason)
        self._remember(rows)

    async def record_async(self, rows: list[Row], entry_ids: Iterable[str] | None = None) -> None:
        """`record` for the event loop: awaits the group commit without blocking the loop."""
        if not rows:
            return
        if self._journal is not None:
            try:
                await asyncio.wrap_future(self._journal.submit(rows, entry_ids))
                self._remember(rows)
                return
            except JournalError as error:
                reason = str(error)
        else:
            reason = "journal unavailable"
        await asyncio.to_thread(self._write_direct, rows, entry_ids, reason)
        self._remember(rows)

    def _write_direct(
        self, rows: list[Row], entry_ids: Iterable[str] | None, journal_problem: str
    ) -> None:
        """The journal failed: write to the database now, or refuse (nothing answered, lost)."""
        self.stats.journal_failures += 1
        ids = list(entry_ids) if entry_ids is not None else None
        if ids is None:
            ids = [f"direct:{time.time_ns():x}:{i}" for i in range(len(rows))]
        try:
            self._ensure_table()
            write_entries(self._engine, list(zip(ids, rows, strict=True)))
        except Exception as error:  # the database failed too: refuse, do not drop
            self._health.note_error(short_error(error))
            log.critical(
                "scoring log: journal and database both failed (%s; %s): refusing %d rows",
                journal_problem,
                self.stats.last_error,
                len(rows),
            )
            raise ScoringLogUnavailable(
                "the scoring log cannot keep these leads: the journal failed "
                f"({redact(journal_problem)}) and the database is unavailable "
                f"({type(error).__name__})"
            ) from None
        self.stats.written += len(rows)
        log.warning("scoring log: journal failed (%s); %d rows written directly", journal_problem,
                    len(rows))  # fmt: skip

    def flush(self, timeout: float = 10.0) -> bool:
        """Ship everything journaled so far; False if the database has not taken it in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._shipper.caught_up():
                self._wake.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Ship what can be shipped within `timeout`; what is left stays in the journal."""
        self.flush(timeout)
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._journal is not None:
            self._journal.close(timeout)
            self._shipper.remove_shipped()
            self._journal.release()
        for adopted in self._shipper.adopted:
            adopted.release(self._directory)
        self._engine.dispose()

    def reship_dead_letters(self) -> tuple[int, int]:
        """Offer the dead-letter rows to the table again (after a fix): (shipped, still
        refused). Stops at the first error that is not the row's (they stay for later)."""
        try:
            self._ensure_table()  # a new database: the writer may not have created it yet
        except sa.exc.SQLAlchemyError as error:  # the rows stay; the reship notes it too
            self._health.note_error(short_error(error))
        return rework_dead_letters(self._directory, self._shipper.reship)

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:  # the first contact and the trend warm-up right away; shipping at its pace
            if self._shipper.contact():
                self._trends.follow_table()
        except Exception as error:  # never let the writer thread die
            self._health.note_error(short_error(error))
            log.exception("scoring log: unexpected error at the first contact")
        while True:
            self._wake.wait(self._retry_delay() if self._health.failing else self.flush_seconds)
            self._wake.clear()
            try:
                self._cycle()
            except Exception as error:  # never let the writer thread die
                self._health.note_error(short_error(error))
                log.exception("scoring log: unexpected error while shipping")
            with self._cond:
                self._cond.notify_all()
            if self._closing:
                return

    def _cycle(self) -> None:
        """One round of the writer: contact (schema, write probe), ship, follow the table."""
        if not self._health.schema_ready and not self._shipper.contact():
            return
        if not self._shipper.ship_all():
            return
        if self._closing:
            return
        self._trends.follow_table()
        if time.monotonic() - self._health.last_write > self.probe_seconds:
            self._shipper.contact()  # an idle writer still notices a database turned read-only

    def _retry_delay(self) -> float:
        return min(self.max_retry_seconds, 0.25 * 2.0 ** min(self.stats.failed_writes, 8))


def replay(
    url: str, journal_dir: Path | None = None, timeout: float = 30.0, claim: bool = False
) -> dict[str, Any]:
    """Ship every journal left by ended processes into the table, then the dead-letter rows
    (after a fix they are taken; still refused, they stay): `scoring-log replay`.

    Raises `JournalDestinationError` when the journal belongs to another database."""
    from leadscore.scoring.journal_files import unshipped_rows

    directory = Path(journal_dir or journal_dir_for(url))
    before = unshipped_rows(directory)
    scoring_log = ScoringLog(
        url, journal_dir=directory, write_journal=False, trend_leads=0, claim=claim
    )
    shipped = refused = 0
    try:
        done = scoring_log.flush(timeout)
        if done:
            shipped, refused = scoring_log.reship_dead_letters()
    finally:
        scoring_log.close(timeout=1.0)
    return {
        "journal": str(directory),
        "destination": str(scoring_log.destination),
        "found": before,
        "replayed": scoring_log.stats.replayed,
        "rejected": scoring_log.stats.rejected,
        "dead_letters_shipped": shipped,
        "dead_letters_left": refused if done else dead_letter_rows(directory),
        "remaining": unshipped_rows(directory),
        "complete": done,
        "last_error": scoring_log.stats.last_error,
    }
