"""The scoring log: every scored lead, so monthly feedback can join outcomes to it later.

One table, `scored_leads`, in SQLite by default (`data/scoring_log.db`) or any SQLAlchemy URL
(PostgreSQL: `postgresql+psycopg://user:pass@host/db`).

No answered lead is lost: `record` returns only once the rows are durable in the local journal
(`leadscore.scoring.journal`: group commit, one `fdatasync` shared by concurrent requests). A
background writer ships the journal into the table in batches. While the database fails, rows
wait in the journal ("spilled"); the writer retries with a backoff and replays them as soon as
it answers again, and health turns good again. Journals left by a process that died are
replayed by the next one, or on demand with `leadscore scoring-log replay`. Each row carries a
unique entry id and the table ignores ids it already holds, so replaying twice never logs a
lead twice. A row the database refuses on its own (while the rest of its batch is fine) is set
aside in the journal's `rejected.jsonl` with the reason, and does not hold up its batch. Only
when the journal *and* the database both fail does `record` raise `ScoringLogUnavailable` (the
service answers 503): it never answers for a lead it could not keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from leadscore.core.redact import redact
from leadscore.scoring.journal import (
    REJECTED_FILE,
    Adopted,
    JournalError,
    JournalWriter,
    Row,
    adopt_orphans,
    read_checkpoint,
    read_lines,
    remove_segment,
    write_checkpoint,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///data/scoring_log.db"
TABLE = "scored_leads"

metadata = sa.MetaData()
scored_leads = sa.Table(
    TABLE,
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),  # SQLite's INTEGER key is 64-bit
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("entry_id", sa.Text, nullable=True, unique=True),
    sa.Column("lead_id", sa.Text, nullable=False, index=True),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)
COLUMNS = tuple(c.name for c in scored_leads.columns if c.name not in ("id", "entry_id"))


class ScoringLogUnavailable(RuntimeError):
    """Neither the journal nor the database could keep the rows."""


def make_engine(url: str) -> sa.Engine:
    """An engine for the log (no connection yet); SQLite files get their directory and WAL."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=5000")

    return engine


def ensure_schema(engine: sa.Engine) -> None:
    """Create the table, or bring an older one up to date (entry ids, 64-bit ids)."""
    metadata.create_all(engine)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns(TABLE)}
    with engine.begin() as connection:
        if "entry_id" not in columns:
            connection.exec_driver_sql(f"ALTER TABLE {TABLE} ADD COLUMN entry_id TEXT")
            connection.exec_driver_sql(
                f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{TABLE}_entry_id ON {TABLE} (entry_id)"
            )
        if engine.dialect.name == "postgresql" and not isinstance(
            columns["id"]["type"], sa.BigInteger
        ):
            connection.exec_driver_sql(f"ALTER TABLE {TABLE} ALTER COLUMN id TYPE BIGINT")


def rows_for(
    lead_ids: Iterable[str],
    probability: Iterable[float],
    score: Iterable[int],
    grade: Iterable[str],
    model_version: str,
    contract_version: str,
    source: str,
    scored_at: datetime | None = None,
) -> list[Row]:
    """Rows of the log as tuples in `COLUMNS` order (cheap to build on the request path).

    Values must be plain Python values (lists from `.tolist()`), as the database driver binds them.
    """
    stamp = scored_at or datetime.now(UTC)
    return [
        (lead_id, stamp, p, s, g, model_version, contract_version, source)
        for lead_id, p, s, g in zip(lead_ids, probability, score, grade, strict=True)
    ]


def decode_line(line: bytes) -> tuple[str, Row]:
    """A journal line back to (entry id, row)."""
    entry_id, lead_id, stamp, *rest = orjson.loads(line)
    return entry_id, (lead_id, datetime.fromisoformat(stamp), *rest)


def insert_statement(engine: sa.Engine) -> str:
    """INSERT that skips entry ids already in the table (replays are idempotent)."""
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    names = ("entry_id", *COLUMNS)
    return (
        f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))}) "
        "ON CONFLICT (entry_id) DO NOTHING"
    )


def write_entries(engine: sa.Engine, entries: list[tuple[str, Row]]) -> None:
    """Insert (entry id, row) pairs in one transaction (raises on failure)."""
    if not entries:
        return
    sqlite = engine.dialect.name == "sqlite"
    params = []
    for entry_id, row in entries:
        if sqlite:  # stored as SQLAlchemy stores SQLite datetimes (naive UTC text)
            stamp = row[1].astimezone(UTC) if row[1].tzinfo else row[1]
            row = (row[0], stamp.strftime("%Y-%m-%d %H:%M:%S.%f"), *row[2:])
        params.append((entry_id, *row))
    with engine.begin() as connection:
        connection.exec_driver_sql(insert_statement(engine), params)


LATEST_KEPT = 200_000  # leads whose newest score this process keeps in memory


def latest_scores(engine: sa.Engine, lead_ids: list[str]) -> dict[str, tuple[int, str]]:
    """The newest (score, grade) in the table of each of these leads."""
    found: dict[str, tuple[int, str]] = {}
    columns = scored_leads.c
    for start in range(0, len(lead_ids), 500):
        query = (
            sa.select(columns.lead_id, columns.score, columns.grade)
            .where(columns.lead_id.in_(lead_ids[start : start + 500]))
            .order_by(columns.scored_at, columns.id)
        )
        with engine.connect() as connection:
            for lead, score, grade in connection.execute(query):
                found[lead] = (int(score), str(grade))
    return found


def journal_dir_for(url: str) -> Path:
    """Where the journal lives: beside a SQLite file, else `data/scoring_log.journal`."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///") + ".journal")
    return Path("data/scoring_log.journal")


def short_error(error: BaseException) -> str:
    return redact(f"{type(error).__name__}: {error}".splitlines()[0][:500])


@dataclass
class LogStats:
    written: int = 0  # rows inserted into the table by this process
    failed_writes: int = 0  # database writes that failed
    spilled: int = 0  # rows kept in the journal while the database failed
    replayed: int = 0  # of those, rows since written to the table
    rejected: int = 0  # rows the database refused on their own (set aside, with the reason)
    lost: int = 0  # rows neither in the table nor in the journal (should stay 0)
    journal_failures: int = 0  # group commits that failed (rows then went to the database)
    last_error: str | None = None
    last_error_at: str | None = None


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
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self._directory = Path(self.journal_dir or journal_dir_for(self.url))
        self.journal_dir = self._directory
        self._engine = make_engine(self.url)
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closing = False
        self._failing = False
        self._last_outage_log = 0.0
        self._offsets: dict[Path, int] = {}
        self._rejected_in_batch = 0
        self._spill_marks: dict[Path, int] = {}
        self._latest: dict[str, tuple[int, str]] = {}  # lead -> newest (score, grade) recorded
        self._schema_ready = self._probe(initial=True)
        try:
            self._journal: JournalWriter | None = (
                JournalWriter(self.journal_dir, self.sync) if self.write_journal else None
            )
        except OSError as error:
            self._journal = None
            self._note_error(f"journal unavailable: {short_error(error)}")
            log.error("scoring log: no journal at %s (%s); writing straight to the database",
                      self.journal_dir, short_error(error))  # fmt: skip
        own = self._journal.token if self._journal else None
        self._adopted: list[Adopted] = adopt_orphans(self.journal_dir, own)
        if self._adopted:
            found = self._count_spilled()
            log.warning(
                "scoring log: %d rows left in the journal by an ended process; replaying them",
                found,
            )
        self._thread = threading.Thread(target=self._run, name="scoring-log", daemon=True)
        self._thread.start()

    # --- the request side ----------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        journal_ok = self._journal is not None and self._journal.last_error is None
        return journal_ok and not self._failing

    def previous(self, lead_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """The latest logged (score, grade) of each lead: rows recorded by this process (not
        yet in the table, perhaps), else the table's newest row. Leads never scored are absent;
        when the table cannot be read, only what this process recorded is known. While the
        writer finds the database down, the table is not asked: a request never waits on an
        outage for a trend."""
        wanted = list(dict.fromkeys(lead_ids))
        with self._cond:
            found = {lead: self._latest[lead] for lead in wanted if lead in self._latest}
        missing = [lead for lead in wanted if lead not in found]
        if missing and not self._failing:
            try:
                found |= latest_scores(self._engine, missing)
            except sa.exc.SQLAlchemyError as error:
                self._note_error(f"previous scores unavailable: {short_error(error)}")
        return found

    def _remember(self, rows: list[Row]) -> None:
        with self._cond:
            for row in rows:  # COLUMNS order: lead_id, scored_at, probability, score, grade, ...
                self._latest.pop(row[0], None)
                self._latest[row[0]] = (row[3], row[4])
            while len(self._latest) > LATEST_KEPT:
                self._latest.pop(next(iter(self._latest)))

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
        while True:
            self._wake.wait(self._retry_delay() if self._failing else self.flush_seconds)
            self._wake.clear()
            try:
                self._ship_all()
            except Exception as error:  # never let the writer thread die
                self._note_error(short_error(error))
                log.exception("scoring log: unexpected error while shipping")
            with self._cond:
                self._cond.notify_all()
            if self._closing:
                return

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
        self._rejected_in_batch = 0  # a batch cut short by an outage is retried whole
        entries, corrupt = [], []
        for line in lines:
            try:
                entries.append(decode_line(line))
            except (ValueError, TypeError) as error:
                corrupt.append((line, error))
        try:
            write_entries(self._engine, entries)
        except Exception as error:
            first = short_error(error)
            if not self._probe():
                self._outage(first)
                return False
            self.stats.failed_writes += 1
            self._note_error(first)
            if not self._isolate(entries):
                return False
        for line, problem in corrupt:
            self._set_aside(line, f"unreadable journal line: {problem}", lost=True)
        self._advance(segment, offset, lines)
        if self._failing:
            self._failing = False
            log.warning(
                "scoring log: the database is back; %d spilled rows replayed so far",
                self.stats.replayed,
            )
        return True

    def _isolate(self, entries: list[tuple[str, Row]]) -> bool:
        """The database works but refused the batch: write row by row, set aside the bad ones."""
        for entry in entries:
            try:
                write_entries(self._engine, [entry])
            except Exception as error:
                if not self._probe():
                    self._outage(short_error(error))
                    return False
                line = orjson.dumps([entry[0], *entry[1]]).decode()
                self._set_aside(line, short_error(error))
        return True

    def _advance(self, segment: Path, offset: int, lines: list[bytes]) -> None:
        mark = self._spill_marks.get(segment, 0)
        position, replayed = offset, 0
        for line in lines:
            replayed += position < mark
            position += len(line)
        shipped = len(lines) - self._rejected_in_batch
        self._rejected_in_batch = 0
        self.stats.written += shipped
        self.stats.replayed += replayed
        self._offsets[segment] = position
        with contextlib.suppress(FileNotFoundError):
            write_checkpoint(segment, position)

    def _set_aside(self, line: bytes | str, reason: str, lost: bool = False) -> None:
        """A row the database will not take: into `rejected.jsonl` with the reason.

        `lost`: the journal line itself is unreadable, so the row cannot be recovered."""
        self._rejected_in_batch += 1
        text = line.decode("utf-8", "replace").strip() if isinstance(line, bytes) else line
        record = json.dumps({"row": text, "reason": reason, "at": now()}) + "\n"
        try:
            with (self._directory / REJECTED_FILE).open("a") as handle:
                handle.write(record)
        except OSError:
            lost = True
        if lost:
            self.stats.lost += 1
        else:
            self.stats.rejected += 1
        log.error("scoring log: a row was refused (%s); set aside in %s", reason, REJECTED_FILE)

    def _outage(self, error: str) -> None:
        self.stats.failed_writes += 1
        self._note_error(error)
        self._count_spilled()
        if not self._failing or time.monotonic() - self._last_outage_log > 30:
            self._last_outage_log = time.monotonic()
            log.error(
                "scoring log: cannot write to %s (%s); %d rows kept in the journal %s and "
                "retried until it answers",
                self._engine.url.render_as_string(hide_password=True),
                error,
                self.stats.spilled - self.stats.replayed,
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

    def _probe(self, initial: bool = False) -> bool:
        """Can the database be written at all (creating the table when missing)?"""
        try:
            ensure_schema(self._engine)
            return True
        except Exception as error:
            if initial:
                self._failing = True
                self._note_error(short_error(error))
                log.error(
                    "scoring log: database %s unavailable at start (%s); rows wait in the "
                    "journal until it answers",
                    self._engine.url.render_as_string(hide_password=True),
                    short_error(error),
                )
            return False

    def _note_error(self, message: str) -> None:
        self.stats.last_error = message
        self.stats.last_error_at = now()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def replay(url: str, journal_dir: Path | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """Ship every journal left by ended processes into the table (`scoring-log replay`)."""
    from leadscore.scoring.journal import unshipped_rows

    directory = Path(journal_dir or journal_dir_for(url))
    before = unshipped_rows(directory)
    scoring_log = ScoringLog(url, journal_dir=directory, write_journal=False)
    try:
        done = scoring_log.flush(timeout)
    finally:
        scoring_log.close(timeout=1.0)
    return {
        "journal": str(directory),
        "found": before,
        "replayed": scoring_log.stats.replayed,
        "rejected": scoring_log.stats.rejected,
        "remaining": unshipped_rows(directory),
        "complete": done,
        "last_error": scoring_log.stats.last_error,
    }
