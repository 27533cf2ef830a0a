"""The scoring log's health, read from memory: its counters (`LogStats`), the state words the
service reports, the database as the writer last saw it, and the rows in the dead-letter file."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from leadscore.core.redact import redact
from leadscore.scoring.journal_files import REJECTED_FILE, dead_letter_rows

log = logging.getLogger(__name__)

OK, CONNECTING = "ok", "connecting"
DATABASE_FAILING, DATABASE_NOT_ANSWERING = "database-failing", "database-not-answering"
JOURNAL_FAILING = "journal-failing"
HEALTHY_STATES = (OK, CONNECTING)
OUTAGE_LOG_SECONDS = 30.0  # an ongoing outage is logged again at most this often


def short_error(error: BaseException) -> str:
    return redact(f"{type(error).__name__}: {error}".splitlines()[0][:500])


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


@dataclass
class DatabaseHealth:
    """The database as the writer last saw it: taking writes, failing, or in a call that runs
    past the timeout; with the log's counters and its last error."""

    timeout_seconds: float
    stats: LogStats
    failing: bool = False
    schema_ready: bool = False  # the writer's first contact creates the table
    call_started: float | None = None  # a database call of the writer in flight
    last_write: float = field(default_factory=time.monotonic)
    last_outage_log: float = 0.0

    def state(self, journal_failing: bool) -> str:
        """`ok`, `connecting` (no answer from the database yet), `database-failing` (it
        refuses writes: rows wait in the journal), `database-not-answering` (a call runs past
        the timeout) or `journal-failing`."""
        if journal_failing:
            return JOURNAL_FAILING
        started = self.call_started
        if started is not None and time.monotonic() - started > self.timeout_seconds:
            return DATABASE_NOT_ANSWERING
        if self.failing:
            return DATABASE_FAILING
        return OK if self.schema_ready else CONNECTING

    def note_error(self, message: str) -> None:
        self.stats.last_error = message
        self.stats.last_error_at = now()

    def written_now(self) -> None:
        """The database took a write: an outage is over."""
        self.last_write = time.monotonic()
        if self.failing:
            self.failing = False
            log.warning(
                "scoring log: the database takes writes again; %d spilled rows replayed so far",
                self.stats.replayed,
            )

    def outage_worth_logging(self) -> bool:
        """An outage is logged when it starts, then again every `OUTAGE_LOG_SECONDS` at most."""
        if not self.failing or time.monotonic() - self.last_outage_log > OUTAGE_LOG_SECONDS:
            self.last_outage_log = time.monotonic()
            return True
        return False


@dataclass
class DeadLetterCount:
    """Rows waiting in a journal's dead-letter file: appended rows counted as it grows, the
    whole file again only when it was replaced (by `scoring-log replay`)."""

    directory: Path
    _seen: tuple[tuple[int, int], int] = ((0, 0), 0)  # (inode, size) counted, rows

    def rows(self) -> int:
        try:
            info = (self.directory / REJECTED_FILE).stat()
        except FileNotFoundError:
            return 0
        (inode, size), count = self._seen
        if info.st_ino != inode or info.st_size < size:
            inode, size, count = info.st_ino, 0, 0
        if info.st_size > size:
            count += dead_letter_rows(self.directory, size, info.st_size)
        self._seen = ((inode, info.st_size), count)
        return count
