"""The scoring journal's directory, around the segments each process writes (scoring/journal.py):
checkpoints of shipping, orphaned segments of ended processes, the database the directory belongs
to (`destination.json`) and the dead-letter file of rows the database refused."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from leadscore.core.errors import LeadscoreError

SEGMENT_SUFFIX = ".jsonl"
CHECKPOINT_SUFFIX = ".shipped"
LOCK_SUFFIX = ".lock"
REJECTED_FILE = "rejected.jsonl"  # the dead-letter file
DEAD_LETTER_GUARD = "rejected.guard"  # locked while the dead-letter file is changed
DESTINATION_FILE = "destination.json"


class JournalDestinationError(LeadscoreError):
    """A journal holds rows for another database than the one it was asked to ship to."""


def read_checkpoint(segment: Path) -> int:
    try:
        return int(segment.with_suffix(CHECKPOINT_SUFFIX).read_text())
    except (OSError, ValueError):
        return 0


def write_checkpoint(segment: Path, offset: int) -> None:
    """Where shipping stands in `segment` (atomic replace; a stale one only re-ships rows)."""
    path = segment.with_suffix(CHECKPOINT_SUFFIX)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(str(offset))
    os.replace(temporary, path)


def remove_segment(segment: Path) -> None:
    for path in (segment, segment.with_suffix(CHECKPOINT_SUFFIX)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def segments_of(directory: Path, token: str) -> list[Path]:
    return sorted(directory.glob(f"{token}-*{SEGMENT_SUFFIX}"))


def token_of(segment: Path) -> str:
    return segment.name.rsplit("-", 1)[0]


def try_lock(path: Path) -> TextIO | None:
    """An open file holding an exclusive lock on `path`, or None if another process holds it."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@dataclass
class Adopted:
    """Segments of an ended process, locked by us while we ship them."""

    token: str
    lock: TextIO
    segments: list[Path]

    def release(self, directory: Path) -> None:
        """Unlock; when every segment is shipped, remove the lock file too."""
        if not segments_of(directory, self.token):
            with contextlib.suppress(FileNotFoundError):
                (directory / f"{self.token}{LOCK_SUFFIX}").unlink()
        self.lock.close()


def adopt_orphans(directory: Path, own_token: str | None = None) -> list[Adopted]:
    """Lock and return the segments of every process that no longer holds its lock."""
    if not directory.is_dir():
        return []
    tokens = {token_of(p) for p in directory.glob(f"*{SEGMENT_SUFFIX}") if p.name != REJECTED_FILE}
    tokens |= {p.name.removesuffix(LOCK_SUFFIX) for p in directory.glob(f"*{LOCK_SUFFIX}")}
    adopted = []
    for token in sorted(tokens - {own_token}):
        lock = try_lock(directory / f"{token}{LOCK_SUFFIX}")
        if lock is None:
            continue  # a live process owns it
        adopted.append(Adopted(token, lock, segments_of(directory, token)))
    return adopted


# --- the destination -------------------------------------------------------------------------


def read_destination(directory: Path) -> dict[str, str] | None:
    try:
        found = orjson.loads((directory / DESTINATION_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise JournalDestinationError(
            f"the scoring journal {directory} has an unreadable {DESTINATION_FILE} ({error}): "
            "it cannot tell which database its rows belong to"
        ) from None
    return {"name": str(found.get("name", "?")), "fingerprint": str(found.get("fingerprint"))}


def has_segments(directory: Path) -> bool:
    return any(p.name != REJECTED_FILE for p in directory.glob(f"*{SEGMENT_SUFFIX}"))


def claim_destination(directory: Path, name: str, fingerprint: str, claim: bool = False) -> None:
    """Record that `directory` ships to the database `fingerprint`; refuse any other one.

    A directory with rows but no record (written before journals recorded their database) is
    refused too, unless `claim` (the operator says whose rows they are)."""
    directory.mkdir(parents=True, exist_ok=True)
    recorded = read_destination(directory)
    if recorded is not None:
        if recorded["fingerprint"] != fingerprint:
            raise JournalDestinationError(
                f"the scoring journal {directory} belongs to the database {recorded['name']} "
                f"(fingerprint {recorded['fingerprint']}), not to {name} (fingerprint "
                f"{fingerprint}): its rows are never shipped to another database. Give this "
                "database its own journal (LEADSCORE_JOURNAL_DIR, or leave it unset for the "
                "default one per database)"
            )
        return
    if has_segments(directory) and not claim:
        raise JournalDestinationError(
            f"the scoring journal {directory} holds rows but does not record their database: "
            f"if they belong to {name}, ship them with `leadscore scoring-log replay "
            f"--journal-dir {directory} --claim` (with that database's URL)"
        )
    record = orjson.dumps({"name": name, "fingerprint": fingerprint})
    write_durably(directory / DESTINATION_FILE, record + b"\n")


def write_durably(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a synced temporary file renamed over it, directory synced."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    sync_directory(path.parent)


# --- the dead-letter file ---------------------------------------------------------------------


@contextlib.contextmanager
def dead_letter_lock(directory: Path) -> Iterator[Path]:
    """Hold the dead-letter file's lock (appends and rewrites of all processes take turns)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / DEAD_LETTER_GUARD).open("a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            yield directory / REJECTED_FILE
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def append_dead_letters(directory: Path, records: list[dict[str, Any]]) -> None:
    """Append refused rows (`{"row": journal line, "reason": ..., "at": ...}`), synced."""
    data = b"".join(orjson.dumps(record) + b"\n" for record in records)
    with dead_letter_lock(directory) as path, path.open("ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def dead_letter_rows(directory: Path, start: int = 0, end: int | None = None) -> int:
    """Rows waiting in the dead-letter file (between bytes `start` and `end`)."""
    try:
        with (directory / REJECTED_FILE).open("rb") as handle:
            handle.seek(start)
            data = handle.read() if end is None else handle.read(max(0, end - start))
            return data.count(b"\n")
    except FileNotFoundError:
        return 0


def rework_dead_letters(
    directory: Path, ship: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> tuple[int, int]:
    """Offer the dead letters to `ship`, which returns the records still refused; keep only
    those (under the lock, replaced durably). Returns (shipped, still refused)."""
    with dead_letter_lock(directory) as path:
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return 0, 0
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                records.append({"row": line.decode("utf-8", "replace"), "reason": "unreadable"})
        kept = ship(records)
        if kept:
            write_durably(path, b"".join(orjson.dumps(record) + b"\n" for record in kept))
        else:
            path.unlink()
            sync_directory(directory)
        return len(records) - len(kept), len(kept)


def unshipped_rows(directory: Path) -> int:
    """Rows in the journal beyond their segment's checkpoint (written by no database yet)."""
    if not directory.is_dir():
        return 0
    count = 0
    for segment in directory.glob(f"*{SEGMENT_SUFFIX}"):
        if segment.name == REJECTED_FILE:
            continue
        with segment.open("rb") as handle:
            handle.seek(read_checkpoint(segment))
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
    return count


def sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
