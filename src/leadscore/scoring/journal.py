"""The scoring journal: every scored lead on local disk, synced, before it is answered.

Rows are appended as JSON lines to this process's segment files in a journal directory. A
committer thread writes everything waiting in one go and syncs the file once (group commit),
then resolves the waiters, so a request waits for one `fdatasync` shared with every request
that arrived meanwhile. The scoring log's database writer ships from these files and keeps a
checkpoint per segment (`<segment>.shipped`); a shipped segment is removed.

Each process holds an exclusive lock on `<token>.lock` while it writes `<token>-NNNNNN.jsonl`.
Segments whose lock nobody holds belong to a process that ended (cleanly or by `kill -9`): the
next process, or `leadscore scoring-log replay`, adopts and ships them. Every row carries a
unique entry id, and the table ignores an id it already has, so shipping twice is harmless.

A journal belongs to one database: `destination.json` records its name (no credentials) and
fingerprint when the directory is first used, and `claim_destination` refuses any other
database, so rows are never shipped to a database they were not scored for. Rows the database
refused for their values wait in the dead-letter file `rejected.jsonl` (appended and rewritten
under one lock, synced) until `leadscore scoring-log replay` ships them after a fix. The
directory's files other than the writer's own live in `scoring/journal_files.py`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO

import orjson

from leadscore.scoring.journal_files import (
    LOCK_SUFFIX,
    SEGMENT_SUFFIX,
    segments_of,
    sync_directory,
    try_lock,
)

log = logging.getLogger(__name__)

Row = tuple[Any, ...]  # one scoring-log row, in the log table's column order
Pending = tuple[list[Row], Iterable[str] | None, Future[None]]  # rows, entry ids, waiter


class JournalError(OSError):
    """The journal could not make rows durable (the reason is in the message)."""


def encode_row(entry_id: str, row: Row) -> bytes:
    """One journal line: `[entry_id, *row]` as JSON (datetimes in ISO 8601)."""
    return orjson.dumps([entry_id, *row]) + b"\n"


def read_lines(path: Path, offset: int, max_rows: int, end: int | None = None) -> list[bytes]:
    """Up to `max_rows` complete lines of `path` from byte `offset` (not past `end`).

    Each line keeps its trailing newline, so `offset + sum(map(len, lines))` is where the next
    read starts. An incomplete last line (a write torn by a crash) is not returned.
    """
    size = max_rows * 512
    with path.open("rb") as handle:
        while True:
            remaining = None if end is None else end - offset
            wanted = size if remaining is None else min(size, remaining)
            if wanted <= 0:
                return []
            handle.seek(offset)
            chunk = handle.read(wanted)
            lines = chunk.splitlines(keepends=True)[:max_rows]
            if lines and not lines[-1].endswith(b"\n"):
                lines.pop()
            if lines or len(chunk) < wanted or wanted == remaining:  # found, or nothing more
                return lines
            size *= 4  # a line longer than the chunk: read more


class JournalWriter:
    """This process's journal: `submit` rows, get a future that resolves once they are durable.

    `sync=False` skips `fdatasync`: rows then survive the process being killed (they are in
    the kernel's page cache) but not a crash of the machine.
    """

    def __init__(
        self,
        directory: Path,
        sync: bool = True,
        max_segment_bytes: int = 64 << 20,
        on_durable: Callable[[int], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.sync = sync
        self.max_segment_bytes = max_segment_bytes
        self.on_durable = on_durable or (lambda rows: None)  # before readers see the rows
        self.directory.mkdir(parents=True, exist_ok=True)
        self.token, self._lock_handle = self._claim_token()
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._pending: list[Pending] = []
        self._closed = False
        self._committing = False
        self._segments: list[tuple[Path, int]] = []  # own segments and their durable ends
        self._descriptor = -1
        self.rows_committed = 0
        self.failures = 0
        self.last_error: str | None = None
        self._open_segment()
        self._thread = threading.Thread(target=self._run, name="scoring-journal", daemon=True)
        self._thread.start()

    def _claim_token(self) -> tuple[str, TextIO]:
        while True:
            token = f"{os.getpid()}-{secrets.token_hex(6)}"
            lock = try_lock(self.directory / f"{token}{LOCK_SUFFIX}")
            if lock is not None:
                return token, lock

    def _open_segment(self) -> None:
        path = self.directory / f"{self.token}-{len(self._segments):06d}{SEGMENT_SUFFIX}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if self.sync:
            sync_directory(self.directory)
        if self._descriptor >= 0:
            os.close(self._descriptor)
        self._descriptor = descriptor
        with self._cond:
            self._segments.append((path, 0))

    def segments(self) -> list[tuple[Path, int, bool]]:
        """Own segments, oldest first: (path, durable end, still being written)."""
        with self._cond:
            last = len(self._segments) - 1
            return [(path, end, i == last) for i, (path, end) in enumerate(self._segments)]

    def forget(self, segment: Path) -> None:
        """A finished segment was shipped and removed."""
        with self._cond:
            self._segments = [(p, e) for p, e in self._segments if p != segment]

    def idle(self) -> bool:
        """Nothing submitted is waiting for a commit."""
        with self._cond:
            return not self._pending and not self._committing

    def new_entry_id(self) -> str:
        return f"{self.token}:{next(self._ids):x}"

    def submit(self, rows: list[Row], entry_ids: Iterable[str] | None = None) -> Future[None]:
        """Queue rows for the next group commit; the future resolves when they are durable
        (or fails with `JournalError`)."""
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise JournalError("the scoring journal is closed")
            self._pending.append((rows, entry_ids, future))
            self._cond.notify()
        return future

    def append(self, rows: list[Row], entry_ids: Iterable[str] | None = None) -> None:
        """Block until `rows` are durable."""
        self.submit(rows, entry_ids).result()

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1

    def release(self) -> None:
        """Give up the lock (after close); without segments left, remove the lock file."""
        if not segments_of(self.directory, self.token):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"{self.token}{LOCK_SUFFIX}").unlink()
        self._lock_handle.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._committing = True
            try:
                self._commit(batch)
            finally:
                with self._cond:
                    self._committing = False

    def _commit(self, batch: list[Pending]) -> None:
        parts, waiters, rows = [], [], 0
        for item_rows, entry_ids, future in batch:
            try:
                ids = (
                    entry_ids if entry_ids is not None else (self.new_entry_id() for _ in item_rows)
                )
                parts.append(b"".join(map(encode_row, ids, item_rows)))
            except (TypeError, ValueError, orjson.JSONEncodeError) as error:
                future.set_exception(JournalError(f"rows cannot be journaled: {error}"))
                continue
            waiters.append(future)
            rows += len(item_rows)
        data = b"".join(parts)
        path, start = self._segments[-1]
        try:
            self._write(data)
        except OSError as error:
            self._undo(start)
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            log.error("scoring journal: cannot write %s (%s)", path, self.last_error)
            for future in waiters:
                future.set_exception(JournalError(f"journal write failed: {self.last_error}"))
            return
        self.on_durable(rows)
        with self._cond:
            self._segments[-1] = (path, start + len(data))
        self.rows_committed += rows
        self.last_error = None
        for future in waiters:
            future.set_result(None)
        if start + len(data) >= self.max_segment_bytes:
            with contextlib.suppress(OSError):
                self._open_segment()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._descriptor, view)
            view = view[written:]
        if self.sync:
            os.fdatasync(self._descriptor)

    def _undo(self, size: int) -> None:
        """Cut a partly written group off, so no torn line sits before later rows."""
        try:
            os.ftruncate(self._descriptor, size)
        except OSError as error:
            log.critical("scoring journal: cannot truncate after a failed write (%s)", error)
