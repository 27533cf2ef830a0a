"""File helpers shared by the stages: tables in CSV or Parquet, JSON reports.

A CSV export is read as it was written: its delimiter (comma, semicolon, tab or pipe) and its
encoding (UTF-8 with or without a byte-order mark, else Windows-1252 / Latin-1) are detected per
file unless given. A file that cannot be read names the file, the line and what was expected.

Every write is atomic: the content goes to a temporary file beside the target, which then
replaces the target in one step (`os.replace`). A stage that fails half-way leaves its previous
outputs as they were, and no reader ever sees half a file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1 << 20
CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".psv", ".gz"}


class TableReadError(ValueError):
    """A table file cannot be read: the message names the file, the line and what was expected."""


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file was read, and whether each setting was detected or given."""

    sep: str
    encoding: str
    sep_detected: bool
    encoding_detected: bool

    def describe(self) -> str:
        how = {True: "detected", False: "configured"}
        return (
            f"delimiter {DELIMITER_NAMES.get(self.sep, repr(self.sep))} "
            f"({how[self.sep_detected]}), encoding {self.encoding} "
            f"({how[self.encoding_detected]})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"delimiter": DELIMITER_NAMES.get(self.sep, self.sep)}


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def detect_encoding(path: Path) -> str:
    """utf-8-sig (byte-order mark), utf-8, else cp1252 (Windows exports), else latin-1."""
    with _open_bytes(path) as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with _open_bytes(path) as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"  # every byte is a Latin-1 character


def _sample(path: Path, encoding: str) -> str:
    """The first lines of the file (whole lines only, up to SAMPLE_BYTES)."""
    with _open_bytes(path) as handle:
        raw = handle.read(SAMPLE_BYTES)
        complete = len(raw) < SAMPLE_BYTES
    text = raw.decode(encoding, errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _consistency(sample: str, sep: str) -> tuple[float, int]:
    """(share of rows with the most common field count, that count) when split on `sep`."""
    rows = [row for row in csv.reader(io.StringIO(sample), delimiter=sep) if row]
    if not rows:
        return 0.0, 0
    widths = pd.Series([len(row) for row in rows])
    width = int(widths.mode().max())
    return float((widths == width).mean()), width


def detect_delimiter(sample: str) -> str:
    """The delimiter among comma, semicolon, tab and pipe (quoted fields may contain it).

    csv.Sniffer proposes one; it is kept when it splits the rows into a consistent number of
    fields (at least two). Otherwise the candidate that does so best wins; comma if none does.
    """
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in DELIMITERS:
        share, width = _consistency(sample, sniffed)
        if width > 1 and share >= 0.9:
            return sniffed
    scores = {sep: _consistency(sample, sep) for sep in DELIMITERS}
    usable = {sep: score for sep, score in scores.items() if score[1] > 1}
    if not usable:
        return ","
    return max(usable, key=lambda sep: (round(usable[sep][0], 2), usable[sep][1]))


def detect_csv_format(path: Path, sep: str | None = None, encoding: str | None = None) -> CsvFormat:
    """The delimiter and encoding to read `path` with: given ones win, the rest are detected."""
    used_encoding = encoding or detect_encoding(path)
    used_sep = sep or detect_delimiter(_sample(path, used_encoding))
    return CsvFormat(used_sep, used_encoding, sep is None, encoding is None)


PARSER_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _line_of_byte(path: Path, offset: int) -> int:
    with _open_bytes(path) as handle:
        return handle.read(offset).count(b"\n") + 1


def _undecodable(path: Path, encoding: str) -> tuple[int, str] | None:
    """(line, the offending bytes) of the first byte sequence `encoding` cannot decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with _open_bytes(path) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return _line_of_byte(path, done + max(error.start, 0)), error.object[
                    error.start : error.end
                ].hex(" ")
            done += len(chunk)
    return None


def read_csv_table(
    path: Path, sep: str | None = None, encoding: str | None = None, **csv_options: Any
) -> tuple[pd.DataFrame, CsvFormat]:
    """Read a CSV file with its detected (or given) delimiter and encoding."""
    fmt = detect_csv_format(path, sep, encoding)
    try:
        frame = pd.read_csv(path, sep=fmt.sep, encoding=fmt.encoding, **csv_options)
    except pd.errors.EmptyDataError:
        raise TableReadError(f"{path}: line 1: expected a header line, the file is empty") from None
    except pd.errors.ParserError as error:
        found = PARSER_FIELDS.search(str(error))
        if found:
            expected, line, seen = found.groups()
            what = (
                f"line {line}: expected {expected} fields (as many as the header) but found "
                f"{seen}; a field containing the delimiter must be quoted"
            )
        else:
            what = str(error).strip()
        raise TableReadError(f"{path}: cannot read it with {fmt.describe()}: {what}") from None
    except UnicodeDecodeError as error:
        where = _undecodable(path, fmt.encoding)
        at = f"line {where[0]} has bytes {where[1]!r}" if where else str(error)
        raise TableReadError(
            f"{path}: not valid {fmt.encoding} text ({fmt.describe()}): {at} "
            "where a character was expected; give the file's encoding (e.g. cp1252)"
        ) from None
    return frame, fmt


def read_table(path: Path | str, **csv_options: Any) -> pd.DataFrame:
    """Read a CSV or Parquet file, chosen by its suffix (CSV: delimiter and encoding detected,
    unless `sep` / `encoding` are given)."""
    return read_table_with_format(path, **csv_options)[0]


def read_table_with_format(
    path: Path | str, sep: str | None = None, encoding: str | None = None, **csv_options: Any
) -> tuple[pd.DataFrame, CsvFormat | None]:
    """The table and, for a CSV file, how it was read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path), None
    if suffix in CSV_SUFFIXES:
        return read_csv_table(path, sep, encoding, **csv_options)
    raise ValueError(f"{path}: unsupported table format {path.suffix!r} (use .csv or .parquet)")


def write_text(path: Path | str, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: Path | str, payload: Any) -> None:
    """Write JSON with a stable layout (sorted keys, trailing newline) so diffs stay small."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(frame: pd.DataFrame, path: Path | str, **options: Any) -> None:
    """Write a table to Parquet atomically."""
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, **options)


def write_csv(frame: pd.DataFrame, path: Path | str, **options: Any) -> None:
    """Write a table to CSV atomically."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, **options)


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary file beside `path` to write; it replaces `path` only if the block succeeds.

    Readers see the old file or the new one, never a half-written one; on failure the old file
    stays and the temporary one is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # mode from umask
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
