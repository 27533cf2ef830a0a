"""How a CSV file's format is found: its delimiter and encoding, detected per file unless given.

The delimiter is comma, semicolon, tab or pipe; the encoding UTF-8 with or without a byte-order
mark, else Windows-1252 (Windows exports), else Latin-1. The records themselves are read by
`leadscore.core.csvfile`, for training and batch scoring alike.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, cast

import pandas as pd

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv", ".psv", ".gz"})  # what is read as CSV
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1 << 20


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


def open_bytes(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def detect_encoding(path: Path) -> str:
    """utf-8-sig (byte-order mark), utf-8, else cp1252 (Windows exports), else latin-1."""
    with open_bytes(path) as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open_bytes(path) as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"  # every byte is a Latin-1 character


def _sample(path: Path, encoding: str) -> str:
    """The first lines of the file (whole lines only, up to SAMPLE_BYTES)."""
    with open_bytes(path) as handle:
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
