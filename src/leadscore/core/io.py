"""File helpers shared by the stages: tables in CSV or Parquet, JSON reports.

A CSV export is read as it was written, by the one CSV rule that batch scoring uses too
(`leadscore.core.csvfile`): its delimiter (comma, semicolon, tab or pipe) and its encoding
(UTF-8 with or without a byte-order mark, else Windows-1252 / Latin-1) are detected per file
unless given. A file that cannot be read names the file, the line and what was expected.

Every write is atomic: the content goes to a temporary file beside the target, which then
replaces the target in one step (`os.replace`). A stage that fails half-way leaves its previous
outputs as they were, and no reader ever sees half a file.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.core.csvfile import BadLine, CsvRecords, renamed_with_warning
from leadscore.core.csvformat import (
    CHUNK_BYTES,
    CSV_SUFFIXES,
    DELIMITER_NAMES,
    DELIMITERS,
    PARQUET_SUFFIXES,
    CsvFormat,
    TableReadError,
    detect_csv_format,
    detect_encoding,
    open_bytes,
)
from leadscore.core.csvframes import parsed_values, plain_text_frame, text_frame

__all__ = [  # the CSV rule lives in leadscore.core.csvfile; its names stay importable here
    "DELIMITERS",
    "DELIMITER_NAMES",
    "CsvFormat",
    "TableReadError",
    "atomic_path",
    "detect_csv_format",
    "detect_encoding",
    "read_csv_table",
    "read_json",
    "read_table",
    "read_table_with_format",
    "write_csv",
    "write_json",
    "write_parquet",
    "write_text",
]


def _line_of_byte(path: Path, offset: int) -> int:
    with open_bytes(path) as handle:
        return handle.read(offset).count(b"\n") + 1


def _undecodable(path: Path, encoding: str) -> tuple[int, str] | None:
    """(line, the offending bytes) of the first byte sequence `encoding` cannot decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with open_bytes(path) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return _line_of_byte(path, done + max(error.start, 0)), error.object[
                    error.start : error.end
                ].hex(" ")
            done += len(chunk)
    return None


def _refusal(path: Path, fmt: CsvFormat, bad: BadLine, width: int) -> TableReadError:
    """Why a whole table is refused: its first line that cannot be read."""
    if "not " + fmt.encoding in bad.reason:
        where = _undecodable(path, fmt.encoding)
        at = f"line {where[0]} has bytes {where[1]!r}" if where else f"line {bad.line}"
        return TableReadError(
            f"{path}: not valid {fmt.encoding} text ({fmt.describe()}): {at} "
            "where a character was expected; give the file's encoding (e.g. cp1252)"
        )
    found = FIELDS_FOUND.search(bad.reason)
    if found:
        what = (
            f"line {bad.line}: expected {width} fields (as many as the header) but found "
            f"{found.group(1)}; a field containing the delimiter must be quoted"
        )
    else:
        what = f"line {bad.line}: {bad.reason.removeprefix('malformed line: ')}"
    return TableReadError(f"{path}: cannot read it with {fmt.describe()}: {what}")


FIELDS_FOUND = re.compile(r"^malformed line: (\d+) fields where the header has")


def read_csv_table(
    path: Path, sep: str | None = None, encoding: str | None = None, dtype: Any = None
) -> tuple[pd.DataFrame, CsvFormat]:
    """Read a CSV file with its detected (or given) delimiter and encoding, by the one CSV
    rule (`leadscore.core.csvfile`): the first line that cannot be read refuses the file.

    `dtype=str` keeps every column as text; otherwise columns are typed as `pandas.read_csv`
    would (numbers, true/false, text).
    """
    fmt = detect_csv_format(path, sep, encoding)
    plain = plain_text_frame(path, fmt)  # Arrow's parser, when no line needs the strict one
    if plain is not None:
        frame, header = plain
        frame.attrs["renamed_headers"] = renamed_with_warning(path, header, list(frame.columns))
        return (frame if dtype is str else parsed_values(frame)), fmt
    rows: list[list[str]] = []
    with CsvRecords(path, fmt) as records:
        for item in records:
            if isinstance(item, BadLine):
                raise _refusal(path, fmt, item, records.width)
            rows.append(item[1])
        records.counts.check(path)
        frame = text_frame(rows, records.header)
        frame.attrs["renamed_headers"] = records.renamed
    return (frame if dtype is str else parsed_values(frame)), fmt


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
    if suffix in PARQUET_SUFFIXES:
        return pd.read_parquet(path), None
    if suffix in CSV_SUFFIXES:
        return read_csv_table(path, sep, encoding, **csv_options)
    raise ValueError(f"{path}: unsupported table format {path.suffix!r} (use .csv or .parquet)")


def write_text(path: Path | str, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


# Floats in JSON reports keep this many significant digits: the 17-digit repr showed the
# CPU-dependent last bits (see FLOAT_DECIMALS), so git saw a report change on another machine.
JSON_DIGITS = 10


def stable_json(payload: Any, digits: int = JSON_DIGITS) -> Any:
    """The payload with every float rounded to `digits` significant digits."""
    if isinstance(payload, float):
        return float(f"{payload:.{digits}g}")
    if isinstance(payload, dict):
        return {key: stable_json(value, digits) for key, value in payload.items()}
    if isinstance(payload, list | tuple):
        return [stable_json(value, digits) for value in payload]
    return payload


def write_json(path: Path | str, payload: Any) -> None:
    """Write JSON with a stable layout (sorted keys, trailing newline, floats to 10 significant
    digits: `stable_json`) so diffs stay small and the bytes do not depend on the CPU."""
    text = json.dumps(stable_json(payload), indent=2, sort_keys=True, default=str)
    write_text(path, text + "\n")


# Floats in the files DVC hashes are rounded to this many decimals: the last bits of exp, log
# and BLAS sums differ between CPUs (FMA, AVX-512), which made the same run's truth table hash
# differently on another machine. 1e-10 is far below any figure the pipeline reports.
FLOAT_DECIMALS = 10


def stable_floats(frame: pd.DataFrame, decimals: int = FLOAT_DECIMALS) -> pd.DataFrame:
    """The table with its float columns rounded, so the bytes do not depend on the CPU."""
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]
    return frame.assign(**{c: frame[c].round(decimals) for c in floats}) if floats else frame


def write_parquet(frame: pd.DataFrame, path: Path | str, **options: Any) -> None:
    """Write a table to Parquet atomically, its floats rounded (`stable_floats`)."""
    with atomic_path(path) as temporary:
        stable_floats(frame).to_parquet(temporary, **options)


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
