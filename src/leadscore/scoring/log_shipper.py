"""Shipping the journal into the scoring-log table: segments read in batches from their
checkpoints, a batch the database refuses for some row's values written row by row (that row set
aside in the dead-letter file), the write probe, and the outage accounting (rows spilled while
the database cannot take them, replayed once it can)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadscore.scoring.backlog import Backlog
from leadscore.scoring.database import error_kind, is_data_error
from leadscore.scoring.journal import JournalWriter, Row, read_lines
from leadscore.scoring.journal_files import (
    REJECTED_FILE,
    Adopted,
    append_dead_letters,
    read_checkpoint,
    remove_segment,
    write_checkpoint,
)
from leadscore.scoring.log_health import DatabaseHealth, now, short_error
from leadscore.scoring.log_table import (
    decode_line,
    decode_or_none,
    ensure_schema,
    write_entries,
    write_probe,
)

log = logging.getLogger(__name__)


@dataclass
class JournalShipper:
    """Ships this process's journal and the journals ended processes left into the table."""

    directory: Path
    destination: str  # the database's name, for the log
    engine: sa.Engine
    health: DatabaseHealth
    backlog: Backlog
    batch_size: int
    journal: JournalWriter | None = None
    adopted: list[Adopted] = field(default_factory=list)
    offsets: dict[Path, int] = field(default_factory=dict)
    spill_marks: dict[Path, int] = field(default_factory=dict)

    def work(self) -> list[tuple[Path, int | None, bool]]:
        """Segments to ship, oldest first: (path, readable end or None for EOF, active)."""
        work: list[tuple[Path, int | None, bool]] = []
        for adopted in self.adopted:
            work.extend((segment, None, False) for segment in adopted.segments)
        if self.journal is not None:
            work.extend(self.journal.segments())
        return work

    def offset(self, segment: Path) -> int:
        if segment not in self.offsets:
            self.offsets[segment] = read_checkpoint(segment)
        return self.offsets[segment]

    def caught_up(self) -> bool:
        if self.adopted and any(a.segments for a in self.adopted):
            return False
        if self.journal is None:
            return True
        if not self.journal.idle():
            return False
        return all(self.offsets.get(path, 0) >= end for path, end, _ in self.journal.segments())

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """Mark a database call in flight (health turns red if it outlasts the timeout). A
        call that did: what waits in the journal meanwhile counts as spilled."""
        started = self.health.call_started = time.monotonic()
        try:
            yield
        finally:
            self.health.call_started = None
            waited = time.monotonic() - started
            if waited > self.health.timeout_seconds:
                self.health.note_error(f"the database did not answer for {waited:.1f} s")
                self.count_spilled()
                log.error(
                    "scoring log: %s did not answer for %.1f s; %d rows waited in the journal",
                    self.destination,
                    waited,
                    self.backlog.rows,
                )

    def contact(self) -> bool:
        """Create the table when missing and check the database takes a write."""
        try:
            with self.calling():
                ensure_schema(self.engine)
                write_probe(self.engine)
        except Exception as error:
            self.outage(short_error(error), error)
            return False
        self.health.schema_ready = True
        self.health.written_now()
        return True

    def ship_all(self) -> bool:
        for segment, end, active in self.work():
            while True:
                offset = self.offset(segment)
                lines = read_lines(segment, offset, self.batch_size, end)
                if not lines:
                    if not active:
                        self.finish(segment, offset)
                    break
                if not self.ship(segment, offset, lines):
                    return False
        return True

    def finish(self, segment: Path, offset: int) -> None:
        """A segment no longer written to is shipped: remove it (a torn tail was never answered)."""
        with contextlib.suppress(FileNotFoundError):
            if segment.stat().st_size > offset:
                log.warning("scoring log: %s ends in an incomplete line (a write torn by a "
                            "crash, never answered); skipped", segment.name)  # fmt: skip
        remove_segment(segment)
        self.offsets.pop(segment, None)
        self.spill_marks.pop(segment, None)
        for adopted in self.adopted:
            if segment in adopted.segments:
                adopted.segments.remove(segment)
        if self.journal is not None:
            self.journal.forget(segment)

    def ship(self, segment: Path, offset: int, lines: list[bytes]) -> bool:
        """Write a batch of journal lines; False (nothing advanced) when the database cannot
        take rows now. A batch the database refuses for some row's values goes row by row."""
        entries = [decode_or_none(line) for line in lines]
        try:
            with self.calling():
                write_entries(self.engine, [entry for entry in entries if entry is not None])
        except Exception as error:
            if not is_data_error(error):
                self.outage(short_error(error), error)
                return False
            self.health.stats.failed_writes += 1
            self.health.note_error(short_error(error))
            return self.isolate(segment, offset, lines, entries)
        set_aside = 0
        for line, entry in zip(lines, entries, strict=True):
            if entry is None:
                self.set_aside(line, "unreadable journal line", lost=True)
                set_aside += 1
        self.advance(segment, offset, lines, set_aside)
        return True

    def isolate(
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
                self.set_aside(line, "unreadable journal line", lost=True)
                set_aside += 1
                continue
            try:
                with self.calling():
                    write_entries(self.engine, [entry])
            except Exception as error:
                if not is_data_error(error):
                    self.advance(segment, offset, lines[:done], set_aside)
                    self.outage(short_error(error), error)
                    return False
                self.set_aside(line, short_error(error))
                set_aside += 1
        self.advance(segment, offset, lines, set_aside)
        return True

    def advance(self, segment: Path, offset: int, lines: list[bytes], set_aside: int) -> None:
        mark = self.spill_marks.get(segment, 0)
        position, replayed = offset, 0
        for line in lines:
            replayed += position < mark
            position += len(line)
        self.health.stats.written += len(lines) - set_aside
        self.health.stats.replayed += replayed
        self.backlog.remove(len(lines))
        self.offsets[segment] = position
        with contextlib.suppress(FileNotFoundError):
            write_checkpoint(segment, position)
        if lines:
            self.health.written_now()

    def set_aside(self, line: bytes, reason: str, lost: bool = False) -> None:
        """A row the database will not take for its values: into the dead-letter file.

        `lost`: the journal line itself is unreadable, so the row cannot be recovered."""
        text = line.decode("utf-8", "replace").strip()
        try:
            append_dead_letters(self.directory, [{"row": text, "reason": reason, "at": now()}])
        except OSError:
            lost = True
        if lost:
            self.health.stats.lost += 1
        else:
            self.health.stats.rejected += 1
        log.error("scoring log: a row was refused (%s); set aside in %s", reason, REJECTED_FILE)

    def outage(self, message: str, error: BaseException) -> None:
        """The database cannot take rows now: they stay in the journal, health turns red, the
        pool's connections are dropped (a failover leaves them on a read-only server), and the
        next round starts with the write probe."""
        self.health.stats.failed_writes += 1
        self.health.note_error(message)
        self.count_spilled()
        self.health.schema_ready = False
        self.engine.dispose()
        if self.health.outage_worth_logging():
            log.error(
                "scoring log: cannot write to %s (%s error: %s); %d rows kept in the journal %s "
                "and retried until it takes them",
                self.destination,
                error_kind(error),
                message,
                self.backlog.rows,
                self.directory,
            )
        self.health.failing = True

    def count_spilled(self) -> int:
        """Count the rows now waiting in the journal that were not counted as spilled yet."""
        found = 0
        for segment, end, _ in self.work():
            start = max(self.spill_marks.get(segment, 0), self.offset(segment))
            try:
                with segment.open("rb") as handle:
                    handle.seek(start)
                    data = handle.read(None if end is None else max(0, end - start))
            except FileNotFoundError:
                continue
            complete = data.rfind(b"\n") + 1
            found += data.count(b"\n", 0, complete)
            self.spill_marks[segment] = start + complete
        self.health.stats.spilled += found
        return found

    def oldest_adopted(self) -> float | None:
        """When the oldest row left by ended processes was scored (epoch seconds)."""
        times = []
        for adopted in self.adopted:
            for segment in adopted.segments:
                lines = read_lines(segment, self.offset(segment), 1)
                entry = decode_or_none(lines[0]) if lines else None
                if entry is not None and isinstance(entry[1][1], datetime):
                    times.append(entry[1][1].timestamp())
        return min(times, default=None)

    def remove_shipped(self) -> None:
        """At close: remove this process's segments the table holds entirely."""
        if self.journal is None:
            return
        for segment, end, _ in self.journal.segments():
            if self.offsets.get(segment, read_checkpoint(segment)) >= end:
                remove_segment(segment)

    def reship(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Offer dead-letter records to the table again; the ones still refused, with their new
        reason (all from the first error that is not the row's: they stay for later)."""
        kept: list[dict[str, Any]] = []
        for i, record in enumerate(records):
            try:
                entry = decode_line(str(record["row"]).encode())
            except (KeyError, ValueError, TypeError) as error:
                kept.append({**record, "reason": f"unreadable row: {error}", "at": now()})
                continue
            try:
                write_entries(self.engine, [entry])
            except Exception as error:
                if not is_data_error(error):
                    self.health.note_error(short_error(error))
                    return kept + records[i:]
                kept.append({**record, "reason": short_error(error), "at": now()})
            else:
                self.health.stats.written += 1
        return kept
