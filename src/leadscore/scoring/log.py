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

The score trend comes from an in-memory index the writer keeps (`leadscore.scoring.trend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadscore.core.redact import redact
from leadscore.scoring.backlog import Backlog
from leadscore.scoring.database import (
    DEFAULT_TIMEOUT_SECONDS,
    default_journal_dir,
    destination_of,
    error_kind,
    is_data_error,
    is_sqlite_file,
)
from leadscore.scoring.journal import JournalError, JournalWriter, Row, read_lines
from leadscore.scoring.journal_files import (
    REJECTED_FILE,
    Adopted,
    adopt_orphans,
    append_dead_letters,
    claim_destination,
    dead_letter_rows,
    read_checkpoint,
    remove_segment,
    rework_dead_letters,
    write_checkpoint,
)
from leadscore.scoring.log_table import (
    COLUMNS,
    DEFAULT_URL,
    TABLE,
    TREND_PAGE,
    decode_line,
    decode_or_none,
    ensure_schema,
    insert_statement,
    latest_scores,
    make_engine,
    newest_rows,
    rows_for,
    scored_leads,
    write_entries,
    write_probe,
)
from leadscore.scoring.trend import TREND_LEADS, LatestScores, PreviousScores

TREND_PAGES_AT_ONCE = 10  # pages of other processes' rows read a second at most

__all__ = [  # the table's names, imported from here by the rest of leadscore
    "COLUMNS",
    "DEFAULT_URL",
    "TABLE",
    "LogStats",
    "ScoringLog",
    "ScoringLogUnavailable",
    "decode_line",
    "ensure_schema",
    "insert_statement",
    "journal_dir_for",
    "make_engine",
    "replay",
    "rows_for",
    "scored_leads",
    "write_entries",
]

log = logging.getLogger(__name__)


class ScoringLogUnavailable(RuntimeError):
    """Neither the journal nor the database could keep the rows."""


def journal_dir_for(url: str) -> Path:
    """Where the journal lives: beside a SQLite file, else one directory per database under
    `$XDG_STATE_HOME/leadscore/journals` (`leadscore.scoring.database.default_journal_dir`)."""
    return default_journal_dir(url)


def short_error(error: BaseException) -> str:
    return redact(f"{type(error).__name__}: {error}".splitlines()[0][:500])


@dataclass
class LogStats:
    written: int = 0  # rows inserted into the table by this process
    failed_writes: int = 0  # database writes that failed
    spilled: int = 0  # rows kept in the journal while the database failed
    replayed: int = 0  # of those, rows since written to the table
    rejected: int = 0  # rows the database refused for their values (dead-lettered)
    lost: int = 0  # rows neither in the table nor in the journal (should stay 0)
    journal_failures: int = 0  # group commits that failed (rows then went to the database)
    last_error: str | None = None
    last_error_at: str | None = None


OK, CONNECTING = "ok", "connecting"
DATABASE_FAILING, DATABASE_NOT_ANSWERING = "database-failing", "database-not-answering"
JOURNAL_FAILING = "journal-failing"
HEALTHY_STATES = (OK, CONNECTING)


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
            usable = True
        except OSError as error:  # no journal at all: rows go straight to the database
            self._note_error(f"journal unavailable: {short_error(error)}")
            log.error("scoring log: no journal at %s (%s); writing straight to the database",
                      self._directory, short_error(error))  # fmt: skip
            usable = False
        self._engine = make_engine(self.url, self.timeout_seconds)  # no connection made here
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closing = False
        self._failing = False
        self._schema_ready = False  # the writer's first contact creates the table
        self._call_started: float | None = None  # a database call of the writer in flight
        self._last_write = time.monotonic()
        self._last_outage_log = 0.0
        self._offsets: dict[Path, int] = {}
        self._spill_marks: dict[Path, int] = {}
        self._dead_letter_cache: tuple[tuple[int, int], int] = ((0, 0), 0)
        self.backlog = Backlog()
        self._latest = LatestScores(self.trend_leads)
        self._trend_before: int | None = None  # warm-up: next page below this id
        self._trend_after: int | None = None  # following: rows above this id
        self._trend_at = 0.0
        self._journal: JournalWriter | None = None
        if usable:
            self._open_journal()
        own = self._journal.token if self._journal else None
        self._adopted: list[Adopted] = adopt_orphans(self._directory, own) if usable else []
        if self._adopted:
            found = self._count_spilled()
            self.backlog.add(found, self._oldest_adopted())
            log.warning(
                "scoring log: %d rows left in the journal by an ended process; replaying them",
                found,
            )
        self._thread = threading.Thread(target=self._run, name="scoring-log", daemon=True)
        self._thread.start()

    def _open_journal(self) -> None:
        if not self.write_journal:
            return
        try:
            self._journal = JournalWriter(self._directory, self.sync, on_durable=self.backlog.add)
        except OSError as error:
            self._note_error(f"journal unavailable: {short_error(error)}")
            log.error("scoring log: no journal at %s (%s); writing straight to the database",
                      self._directory, short_error(error))  # fmt: skip

    # --- health, read from memory ----------------------------------------------------------

    @property
    def state(self) -> str:
        """`ok`, `connecting` (no answer from the database yet), `database-failing` (it
        refuses writes: rows wait in the journal), `database-not-answering` (a call runs past
        the timeout) or `journal-failing`."""
        if self.write_journal and (self._journal is None or self._journal.last_error):
            return JOURNAL_FAILING
        started = self._call_started
        if started is not None and time.monotonic() - started > self.timeout_seconds:
            return DATABASE_NOT_ANSWERING
        if self._failing:
            return DATABASE_FAILING
        return OK if self._schema_ready else CONNECTING

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_STATES

    @property
    def dead_letters(self) -> int:
        """Rows waiting in the dead-letter file: appended rows counted as it grows, the whole
        file again only when it was replaced (by `scoring-log replay`)."""
        try:
            info = (self._directory / REJECTED_FILE).stat()
        except FileNotFoundError:
            return 0
        (inode, size), count = self._dead_letter_cache
        if info.st_ino != inode or info.st_size < size:
            inode, size, count = info.st_ino, 0, 0
        if info.st_size > size:
            count += dead_letter_rows(self._directory, size, info.st_size)
        self._dead_letter_cache = ((inode, info.st_size), count)
        return count

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
        if self._failing:
            return PreviousScores(known.found, complete=False)
        try:
            if not self._schema_ready:  # a new database: no table, no lead scored before
                ensure_schema(self._engine)
            return PreviousScores(known.found | latest_scores(self._engine, missing))
        except sa.exc.SQLAlchemyError as error:
            self._note_error(f"previous scores unavailable: {short_error(error)}")
            return PreviousScores(known.found, complete=False)

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
            write_entries(self._engine, list(zip(ids, rows, strict=True)))
        except Exception as error:  # the database failed too: refuse, do not drop
            self._note_error(short_error(error))
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
            while not self._caught_up():
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
            for segment, end, _ in self._journal.segments():
                if self._offsets.get(segment, read_checkpoint(segment)) >= end:
                    remove_segment(segment)
            self._journal.release()
        for adopted in self._adopted:
            adopted.release(self._directory)
        self._engine.dispose()

    def reship_dead_letters(self) -> tuple[int, int]:
        """Offer the dead-letter rows to the table again (after a fix): (shipped, still
        refused). Stops at the first error that is not the row's (they stay for later)."""
        return rework_dead_letters(self._directory, self._reship)

    def _reship(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept: list[dict[str, Any]] = []
        for i, record in enumerate(records):
            try:
                entry = decode_line(str(record["row"]).encode())
            except (KeyError, ValueError, TypeError) as error:
                kept.append({**record, "reason": f"unreadable row: {error}", "at": now()})
                continue
            try:
                write_entries(self._engine, [entry])
            except Exception as error:
                if not is_data_error(error):
                    self._note_error(short_error(error))
                    return kept + records[i:]
                kept.append({**record, "reason": short_error(error), "at": now()})
            else:
                self.stats.written += 1
        return kept

    # --- the shipping side ---------------------------------------------------------------

    def _work(self) -> list[tuple[Path, int | None, bool]]:
        """Segments to ship, oldest first: (path, readable end or None for EOF, active)."""
        work: list[tuple[Path, int | None, bool]] = []
        for adopted in self._adopted:
            work.extend((segment, None, False) for segment in adopted.segments)
        if self._journal is not None:
            work.extend(self._journal.segments())
        return work

    def _offset(self, segment: Path) -> int:
        if segment not in self._offsets:
            self._offsets[segment] = read_checkpoint(segment)
        return self._offsets[segment]

    def _caught_up(self) -> bool:
        if self._adopted and any(a.segments for a in self._adopted):
            return False
        if self._journal is None:
            return True
        if not self._journal.idle():
            return False
        return all(self._offsets.get(path, 0) >= end for path, end, _ in self._journal.segments())

    def _run(self) -> None:
        try:  # the first contact and the trend warm-up right away; shipping at its pace
            if self._contact():
                self._follow_table()
        except Exception as error:  # never let the writer thread die
            self._note_error(short_error(error))
            log.exception("scoring log: unexpected error at the first contact")
        while True:
            self._wake.wait(self._retry_delay() if self._failing else self.flush_seconds)
            self._wake.clear()
            try:
                self._cycle()
            except Exception as error:  # never let the writer thread die
                self._note_error(short_error(error))
                log.exception("scoring log: unexpected error while shipping")
            with self._cond:
                self._cond.notify_all()
            if self._closing:
                return

    def _cycle(self) -> None:
        """One round of the writer: contact (schema, write probe), ship, follow the table."""
        if not self._schema_ready and not self._contact():
            return
        if not self._ship_all():
            return
        if self._closing:
            return
        self._follow_table()
        if time.monotonic() - self._last_write > self.probe_seconds:
            self._contact()  # an idle writer still notices a database turned read-only

    @contextlib.contextmanager
    def _calling(self) -> Iterator[None]:
        """Mark a database call in flight (health turns red if it outlasts the timeout). A
        call that did: what waits in the journal meanwhile counts as spilled."""
        started = self._call_started = time.monotonic()
        try:
            yield
        finally:
            self._call_started = None
            waited = time.monotonic() - started
            if waited > self.timeout_seconds:
                self._note_error(f"the database did not answer for {waited:.1f} s")
                self._count_spilled()
                log.error(
                    "scoring log: %s did not answer for %.1f s; %d rows waited in the journal",
                    self.destination.name,
                    waited,
                    self.backlog.rows,
                )

    def _contact(self) -> bool:
        """Create the table when missing and check the database takes a write."""
        try:
            with self._calling():
                ensure_schema(self._engine)
                write_probe(self._engine)
        except Exception as error:
            self._outage(short_error(error), error)
            return False
        self._schema_ready = True
        self._written_now()
        return True

    def _retry_delay(self) -> float:
        return min(self.max_retry_seconds, 0.25 * 2.0 ** min(self.stats.failed_writes, 8))

    def _ship_all(self) -> bool:
        for segment, end, active in self._work():
            while True:
                offset = self._offset(segment)
                lines = read_lines(segment, offset, self.batch_size, end)
                if not lines:
                    if not active:
                        self._finish(segment, offset)
                    break
                if not self._ship(segment, offset, lines):
                    return False
        return True

    def _finish(self, segment: Path, offset: int) -> None:
        """A segment no longer written to is shipped: remove it (a torn tail was never answered)."""
        with contextlib.suppress(FileNotFoundError):
            if segment.stat().st_size > offset:
                log.warning("scoring log: %s ends in an incomplete line (a write torn by a "
                            "crash, never answered); skipped", segment.name)  # fmt: skip
        remove_segment(segment)
        self._offsets.pop(segment, None)
        self._spill_marks.pop(segment, None)
        for adopted in self._adopted:
            if segment in adopted.segments:
                adopted.segments.remove(segment)
        if self._journal is not None:
            self._journal.forget(segment)

    def _ship(self, segment: Path, offset: int, lines: list[bytes]) -> bool:
        """Write a batch of journal lines; False (nothing advanced) when the database cannot
        take rows now. A batch the database refuses for some row's values goes row by row."""
        entries = [decode_or_none(line) for line in lines]
        try:
            with self._calling():
                write_entries(self._engine, [entry for entry in entries if entry is not None])
        except Exception as error:
            if not is_data_error(error):
                self._outage(short_error(error), error)
                return False
            self.stats.failed_writes += 1
            self._note_error(short_error(error))
            return self._isolate(segment, offset, lines, entries)
        set_aside = 0
        for line, entry in zip(lines, entries, strict=True):
            if entry is None:
                self._set_aside(line, "unreadable journal line", lost=True)
                set_aside += 1
        self._advance(segment, offset, lines, set_aside)
        return True

    def _isolate(
        self,
        segment: Path,
        offset: int,
        lines: list[bytes],
        entries: list[tuple[str, Row] | None],
    ) -> bool:
        """Write row by row; a row refused for its values goes to the dead-letter file. Stops
        (keeping the rest in the journal) when the database cannot take rows any more."""
        set_aside = 0
        for done, (line, entry) in enumerate(zip(lines, entries, strict=True)):
            if entry is None:
                self._set_aside(line, "unreadable journal line", lost=True)
                set_aside += 1
                continue
            try:
                with self._calling():
                    write_entries(self._engine, [entry])
            except Exception as error:
                if not is_data_error(error):
                    self._advance(segment, offset, lines[:done], set_aside)
                    self._outage(short_error(error), error)
                    return False
                self._set_aside(line, short_error(error))
                set_aside += 1
        self._advance(segment, offset, lines, set_aside)
        return True

    def _advance(self, segment: Path, offset: int, lines: list[bytes], set_aside: int) -> None:
        mark = self._spill_marks.get(segment, 0)
        position, replayed = offset, 0
        for line in lines:
            replayed += position < mark
            position += len(line)
        self.stats.written += len(lines) - set_aside
        self.stats.replayed += replayed
        self.backlog.remove(len(lines))
        self._offsets[segment] = position
        with contextlib.suppress(FileNotFoundError):
            write_checkpoint(segment, position)
        if lines:
            self._written_now()

    def _written_now(self) -> None:
        self._last_write = time.monotonic()
        if self._failing:
            self._failing = False
            log.warning(
                "scoring log: the database takes writes again; %d spilled rows replayed so far",
                self.stats.replayed,
            )

    def _set_aside(self, line: bytes, reason: str, lost: bool = False) -> None:
        """A row the database will not take for its values: into the dead-letter file.

        `lost`: the journal line itself is unreadable, so the row cannot be recovered."""
        text = line.decode("utf-8", "replace").strip()
        try:
            append_dead_letters(self._directory, [{"row": text, "reason": reason, "at": now()}])
        except OSError:
            lost = True
        if lost:
            self.stats.lost += 1
        else:
            self.stats.rejected += 1
        log.error("scoring log: a row was refused (%s); set aside in %s", reason, REJECTED_FILE)

    def _outage(self, message: str, error: BaseException) -> None:
        """The database cannot take rows now: they stay in the journal, health turns red, the
        pool's connections are dropped (a failover leaves them on a read-only server), and the
        next round starts with the write probe."""
        self.stats.failed_writes += 1
        self._note_error(message)
        self._count_spilled()
        self._schema_ready = False
        self._engine.dispose()
        if not self._failing or time.monotonic() - self._last_outage_log > 30:
            self._last_outage_log = time.monotonic()
            log.error(
                "scoring log: cannot write to %s (%s error: %s); %d rows kept in the journal %s "
                "and retried until it takes them",
                self.destination.name,
                error_kind(error),
                message,
                self.backlog.rows,
                self.journal_dir,
            )
        self._failing = True

    def _count_spilled(self) -> int:
        """Count the rows now waiting in the journal that were not counted as spilled yet."""
        found = 0
        for segment, end, _ in self._work():
            start = max(self._spill_marks.get(segment, 0), self._offset(segment))
            try:
                with segment.open("rb") as handle:
                    handle.seek(start)
                    data = handle.read(None if end is None else max(0, end - start))
            except FileNotFoundError:
                continue
            complete = data.rfind(b"\n") + 1
            found += data.count(b"\n", 0, complete)
            self._spill_marks[segment] = start + complete
        self.stats.spilled += found
        return found

    def _oldest_adopted(self) -> float | None:
        """When the oldest row left by ended processes was scored (epoch seconds)."""
        times = []
        for adopted in self._adopted:
            for segment in adopted.segments:
                lines = read_lines(segment, self._offset(segment), 1)
                entry = decode_or_none(lines[0]) if lines else None
                if entry is not None and isinstance(entry[1][1], datetime):
                    times.append(entry[1][1].timestamp())
        return min(times, default=None)

    # --- the trend index -----------------------------------------------------------------

    def _follow_table(self) -> None:
        """Warm the trend index from the table (newest rows first, a page a second), then
        follow the rows other processes add (every second, until caught up); after shipping."""
        if self.trend_leads <= 0 or time.monotonic() - self._trend_at < 1.0:
            return
        self._trend_at = time.monotonic()
        try:
            if not self._latest.warm:
                self._warm_trends()
            else:
                for _ in range(TREND_PAGES_AT_ONCE):
                    if self._follow_trends() < TREND_PAGE:
                        break
        except Exception as error:  # the next write or probe decides the health
            self._note_error(f"trend index: {short_error(error)}")

    def _warm_trends(self) -> None:
        with self._calling():
            rows = newest_rows(self._engine, self._trend_before, None)
        if self._trend_after is None:
            self._trend_after = rows[0].id if rows else 0
        if rows:
            self._trend_before = rows[-1].id
        scores = [(r.lead_id, r.score, r.grade) for r in rows]
        if not self._latest.remember_older(scores) or len(rows) < TREND_PAGE:
            self._latest.warm = True

    def _follow_trends(self) -> int:
        """One page of rows added since the last one; this process's own rows are in the
        index already (in the order they were recorded). Returns the rows read."""
        own = f"{self._journal.token}:" if self._journal is not None else None
        with self._calling():
            rows = newest_rows(self._engine, None, self._trend_after)
        if rows:
            self._trend_after = rows[-1].id
            self._latest.remember(
                (r.lead_id, r.score, r.grade)
                for r in rows
                if own is None or not str(r.entry_id or "").startswith(own)
            )
        return len(rows)

    def _note_error(self, message: str) -> None:
        self.stats.last_error = message
        self.stats.last_error_at = now()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
