"""The scoring log: every scored lead, so monthly feedback can join outcomes to it later.

One table, `scored_leads`, in SQLite by default (`data/scoring_log.db`) or any SQLAlchemy URL
(PostgreSQL: `postgresql+psycopg://user:pass@host/db`). The service hands rows to a background
writer that inserts them in batches, so a request never waits for a disk flush. A write that
fails is never silent: it is logged as an error, counted, and the rows are appended to a spill
file (JSON lines) next to the database, so no scored lead is lost.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///data/scoring_log.db"
TABLE = "scored_leads"

metadata = sa.MetaData()
scored_leads = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.Text, nullable=False, index=True),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)
COLUMNS = tuple(c.name for c in scored_leads.columns if c.name != "id")


def make_engine(url: str) -> sa.Engine:
    """An engine for the log; SQLite files get their directory and write-ahead logging."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(connection, _record):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=5000")

    metadata.create_all(engine)
    return engine


def rows_for(
    lead_ids: Iterable[str],
    probability: Iterable[float],
    score: Iterable[int],
    grade: Iterable[str],
    model_version: str,
    contract_version: str,
    source: str,
    scored_at: datetime | None = None,
) -> list[tuple]:
    """Rows of the log as tuples in `COLUMNS` order (cheap to build on the request path).

    Values must be plain Python values (lists from `.tolist()`), as the database driver binds them.
    """
    stamp = scored_at or datetime.now(UTC)
    return [
        (lead_id, stamp, p, s, g, model_version, contract_version, source)
        for lead_id, p, s, g in zip(lead_ids, probability, score, grade, strict=True)
    ]


def insert_statement(engine: sa.Engine) -> str:
    """A plain INSERT in the driver's parameter style: executemany without ORM overhead."""
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join([marker] * len(COLUMNS))})"
    )


def write_rows(engine: sa.Engine, rows: list[tuple]) -> None:
    """Insert rows in one transaction (raises on failure)."""
    if not rows:
        return
    if engine.dialect.name == "sqlite":  # stored as SQLAlchemy stores SQLite datetimes (UTC)
        text: dict = {}  # one request's rows share one stamp: format each stamp once
        rows = [
            (r[0], text.get(r[1]) or text.setdefault(r[1], r[1].strftime("%Y-%m-%d %H:%M:%S.%f")))
            + r[2:]
            for r in rows
        ]
    with engine.begin() as connection:
        connection.exec_driver_sql(insert_statement(engine), rows)


def spill_path_for(url: str) -> Path:
    """Where rows go when the database refuses them: beside a SQLite file, else in data/."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///") + ".spill.jsonl")
    return Path("data/scoring_log.spill.jsonl")


@dataclass
class LogStats:
    written: int = 0
    failed_writes: int = 0
    spilled: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    lost: int = 0  # rows neither written nor spilled (the spill file failed too)


@dataclass
class ScoringLog:
    """Background, batched writer of scored leads. `record` never blocks on the database."""

    url: str
    spill_path: Path | None = None
    batch_size: int = 500
    flush_seconds: float = 0.2
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self.spill_path = self.spill_path or spill_path_for(self.url)
        self._engine = make_engine(self.url)
        self._queue: queue.Queue[list[tuple] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="scoring-log", daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self.stats.failed_writes == 0

    def record(self, rows: list[tuple]) -> None:
        if rows:
            with self._lock:
                self._pending += len(rows)
                self._idle.clear()
            self._queue.put(rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every recorded row is written or spilled; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
        self._engine.dispose()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = list(item)
            deadline = time.monotonic() + self.flush_seconds
            while len(batch) < self.batch_size:  # gather what else arrives within the window
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.extend(more)
            self._write(batch)
            with self._lock:
                self._pending -= len(batch)
                if self._pending == 0:
                    self._idle.set()

    def _write(self, batch: list[tuple]) -> None:
        try:
            write_rows(self._engine, batch)
            self.stats.written += len(batch)
        except Exception as error:  # any database failure: report it, keep the rows
            self.stats.failed_writes += 1
            self.stats.last_error = f"{type(error).__name__}: {error}".splitlines()[0][:500]
            self.stats.last_error_at = datetime.now(UTC).isoformat(timespec="seconds")
            log.error(
                "scoring log: could not write %d rows to %s (%s); spilling them to %s",
                len(batch),
                self._engine.url.render_as_string(hide_password=True),
                self.stats.last_error,
                self.spill_path,
            )
            self._spill(batch)

    def _spill(self, batch: list[tuple]) -> None:
        try:
            self.spill_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spill_path.open("a") as handle:
                for row in batch:
                    handle.write(
                        json.dumps(dict(zip(COLUMNS, row, strict=True)), default=str) + "\n"
                    )
            self.stats.spilled += len(batch)
        except OSError as error:
            self.stats.lost += len(batch)
            log.critical("scoring log: spill to %s failed too (%s)", self.spill_path, error)
