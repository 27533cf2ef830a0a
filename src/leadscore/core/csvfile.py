"""How a CSV file is read, for training and scoring alike: its records, line by line.

One rule, used by the CRM export reader (training) and the batch CLI (scoring):

- the format (`leadscore.core.csvformat`): the delimiter (comma, semicolon, tab or pipe) and
  the encoding (UTF-8 with or without a byte-order mark, else Windows-1252, else Latin-1) are
  detected per file unless given;
- the records: standard CSV quoting (a field may be quoted, `""` is a quote inside one, a quoted
  field may hold the delimiter and line breaks), read strictly, with the line each starts on;
- a line that cannot be read is a `BadLine` (its number, why, the text), never a silent loss: a
  quote that never closes, or closes where no field ends, marks only its own line as bad, and
  the lines it would have swallowed are read again on their own. Python's field size limit
  (128 KiB) bounds how far such a quote can run before it is caught;
- the accounting: every physical line is the header, blank, part of a record or a bad line
  (`LineCounts.check`).

The records as a frame: `leadscore.core.csvframes`. A cell written safely for a spreadsheet:
`leadscore.core.spreadsheet`.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from leadscore.core.csvformat import (
    CSV_SUFFIXES,
    DELIMITER_NAMES,
    DELIMITERS,
    PARQUET_SUFFIXES,
    CsvFormat,
    TableReadError,
    detect_csv_format,
    detect_encoding,
)

log = logging.getLogger(__name__)

__all__ = [  # the format is found in leadscore.core.csvformat; its names are read from here too
    "CSV_SUFFIXES",
    "DELIMITERS",
    "DELIMITER_NAMES",
    "PARQUET_SUFFIXES",
    "BadLine",
    "CsvFormat",
    "CsvRecords",
    "LineCounts",
    "TableReadError",
    "HEADER_RULE",
    "column_names",
    "renamed_headers",
    "detect_csv_format",
    "detect_encoding",
    "dialect",
    "renamed_with_warning",
]

BLOCK_CHARS = 1 << 20  # characters of whole lines the reader takes at a time

UNDECODED = re.compile("[\udc80-\udcff]")  # bytes the encoding could not decode


# --- the records -----------------------------------------------------------------------------


def dialect(fmt: CsvFormat) -> dict[str, Any]:
    """The csv module's reading options for a format: standard quoting, read strictly."""
    return {"delimiter": fmt.sep, "quotechar": '"', "doublequote": True, "strict": True}


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read as a record: where, why, and its text as read."""

    line: int
    reason: str
    raw: str
    lines: int = 1  # physical lines it stands for (a whole record when only its bytes are bad)


@dataclass
class LineCounts:
    """What reading found, line by line: every physical line is counted exactly once."""

    lines: int = 0  # physical lines read from the file
    header: int = 0
    blank: int = 0
    records: int = 0  # rows read in full
    record_lines: int = 0  # physical lines those rows span (a quoted field may hold line breaks)
    bad: int = 0  # bad lines (BadLine items)
    bad_lines: int = 0  # physical lines those stand for

    @property
    def rows(self) -> int:
        """Data rows read: the records and the bad lines (each a row of the file's account)."""
        return self.records + self.bad

    def check(self, where: object) -> None:
        """Every line is accounted for, or the read fails."""
        accounted = self.header + self.blank + self.record_lines + self.bad_lines
        if accounted != self.lines:
            raise TableReadError(
                f"{where}: read {self.lines:,} lines but accounted for {accounted:,} (header "
                f"{self.header}, blank {self.blank:,}, rows {self.record_lines:,}, bad "
                f"{self.bad_lines:,})"
            )


class _Lines:
    """The file's lines in blocks (iterated at C speed by the csv module), numbered from 1.

    The text of every line from the current record's start on is kept, so the lines a broken
    quote swallowed can be read again (`read_again`)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._window: list[str] = []  # lines from `_base + 1` on
        self._base = 0
        self.keep_from = 1  # the first line still needed: the current record's
        self.undecoded = False  # some line held bytes the encoding could not decode
        self.offset = 0  # lines consumed before `source` began
        self.source: Iterator[str] = self._more()

    def _more(self) -> Iterator[str]:
        return itertools.chain.from_iterable(iter(self._block, []))

    def _block(self) -> list[str]:
        block = self._handle.readlines(BLOCK_CHARS)
        drop = self.keep_from - 1 - self._base
        if drop > 0:
            del self._window[:drop]
            self._base += drop
        self._window.extend(block)
        if not self.undecoded and UNDECODED.search("".join(block)):
            self.undecoded = True
        return block

    @property
    def read(self) -> int:
        """Physical lines read from the file so far."""
        return self._base + len(self._window)

    def text(self, line: int) -> str:
        return self._window[line - 1 - self._base]

    def read_again(self, first: int) -> Iterator[str]:
        """A new source: the lines from `first` on, again, then the rest of the file."""
        self.offset = first - 1
        self.source = itertools.chain(self._window[first - 1 - self._base :], self._more())
        return self.source


HEADER_RULE = "a repeated header name gets ' (2)', ' (3)', ... in file order (Quota, Quota (2))"


def column_names(header: list[str]) -> list[str]:
    """Header names made unique (`HEADER_RULE`): an empty one is `Unnamed: i`; the second
    `Quota` is `Quota (2)`, the third `Quota (3)`, skipping a name the header already has."""
    named = [name or f"Unnamed: {index}" for index, name in enumerate(header)]
    taken = set(named)
    names: list[str] = []
    seen: set[str] = set()
    for name in named:
        if name not in seen:
            seen.add(name)
            names.append(name)
            continue
        count = 2
        while f"{name} ({count})" in taken or f"{name} ({count})" in seen:
            count += 1
        unique = f"{name} ({count})"
        seen.add(unique)
        names.append(unique)
    return names


def renamed_headers(header: list[str], names: list[str]) -> dict[str, list[str]]:
    """Each repeated header name and the names its columns got, in file order."""
    groups: dict[str, list[str]] = {}
    for index, (raw, name) in enumerate(zip(header, names, strict=True)):
        groups.setdefault(raw or f"Unnamed: {index}", []).append(name)
    return {raw: given for raw, given in groups.items() if len(given) > 1}


def renamed_with_warning(path: Path, header: list[str], names: list[str]) -> dict[str, list[str]]:
    """`renamed_headers`, logged as a warning naming each repeated header (when there is one)."""
    renamed = renamed_headers(header, names)
    if renamed:
        log.warning(
            "%s: header names repeated, renamed (%s): %s",
            path.name,
            HEADER_RULE,
            "; ".join(f"{raw!r} -> {', '.join(new)}" for raw, new in renamed.items()),
        )
    return renamed


def _shown(text: str) -> str:
    """A line as it can be shown: undecodable bytes as U+FFFD, no line break."""
    return text.rstrip("\r\n").encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")


class CsvRecords:
    """The records of a CSV file, read with its format, each with the line it starts on.

    Iterating yields `(line, fields)` for a row with as many fields as the header and a
    `BadLine` for a line that cannot be read; `header` holds the column names and `counts`
    the line accounting (`LineCounts.check` once read). Use as a context manager.
    """

    def __init__(self, path: Path, fmt: CsvFormat) -> None:
        self.path, self.fmt = Path(path), fmt
        self.counts = LineCounts()
        self.header: list[str] = []
        self.renamed: dict[str, list[str]] = {}  # repeated header names -> the names given
        self._handle: IO[str] | None = None
        self._lines: _Lines | None = None

    def __enter__(self) -> CsvRecords:
        options: dict[str, Any] = {"errors": "surrogateescape", "newline": ""}
        if self.path.suffix.lower() == ".gz":
            self._handle = gzip.open(self.path, "rt", encoding=self.fmt.encoding, **options)
        else:
            self._handle = self.path.open(encoding=self.fmt.encoding, **options)
        self._lines = _Lines(self._handle)
        self._reader = csv.reader(self._lines.source, **dialect(self.fmt))
        self._read_header()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    @property
    def width(self) -> int:
        return len(self.header)

    def _next(self) -> tuple[list[str] | None, str | None, int, int]:
        """The next record (None at the end), the csv module's error if any, and the first
        and last line it took."""
        lines = self._lines
        assert lines is not None
        first = lines.offset + self._reader.line_num + 1
        lines.keep_from = first
        try:
            row = next(self._reader)
        except StopIteration:
            return None, None, first, first - 1
        except csv.Error as error:
            return [], str(error), first, lines.offset + self._reader.line_num
        return row, None, first, lines.offset + self._reader.line_num

    def _read_header(self) -> None:
        assert self._lines is not None
        while True:
            row, error, first, last = self._next()
            self.counts.lines = self._lines.read
            if row is None:
                raise TableReadError(
                    f"{self.path}: line 1: expected a header line, the file is empty"
                )
            if error:
                raise TableReadError(
                    f"{self.path}: cannot read it with {self.fmt.describe()}: line {first}: "
                    f"the header line is malformed ({error})"
                )
            if row:
                break
            self.counts.blank += last - first + 1
        if UNDECODED.search("".join(row)):
            raise TableReadError(
                f"{self.path}: line {first}: the header line is not valid "
                f"{self.fmt.encoding} text ({self.fmt.describe()}); give the file's encoding"
            )
        self.counts.header = last - first + 1
        self.header = column_names(row)
        self.renamed = renamed_with_warning(self.path, row, self.header)

    def __iter__(self) -> Iterator[tuple[int, list[str]] | BadLine]:
        lines = self._lines
        assert lines is not None
        counts, width = self.counts, self.width
        while True:  # `_next`, inlined: this loop runs once per row
            reader = self._reader
            first = lines.offset + reader.line_num + 1
            lines.keep_from = first
            try:
                row, error = next(reader), None
            except StopIteration:
                counts.lines = lines.read
                return
            except csv.Error as problem:
                row, error = [], str(problem)
            last = lines.offset + reader.line_num
            if error is None and len(row) == width:
                if not lines.undecoded or UNDECODED.search("".join(row)) is None:
                    counts.records += 1
                    counts.record_lines += last - first + 1
                    yield first, row
                    continue
                text = "".join(lines.text(n) for n in range(first, last + 1))
                bad = BadLine(
                    first,
                    f"malformed line: bytes that are not {self.fmt.encoding} text",
                    _shown(text),
                    last - first + 1,
                )
            elif error is None and not row:
                counts.blank += last - first + 1
                continue
            else:
                bad = self._broken(row, error, first, last)
            counts.bad += 1
            counts.bad_lines += bad.lines
            yield bad

    def _broken(self, row: list[str], error: str | None, first: int, last: int) -> BadLine:
        """The first line of a record that does not parse or has the wrong width; the lines
        after it (taken by a quote that did not close where a field ends) are read again."""
        assert self._lines is not None
        text = self._lines.text(first)
        if last > first:
            self._reader = csv.reader(self._lines.read_again(first + 1), **dialect(self.fmt))
            found = (
                f"({error})" if error else f"({len(row)} fields where the header has {self.width})"
            )
            reason = (
                f"malformed line: a quote opened on this line does not close where a field "
                f"ends {found}; the next lines are read on their own"
            )
        elif error == "unexpected end of data":
            reason = "malformed line: a quote opened on this line never closes"
        elif error:
            reason = f"malformed line: {error}"
        else:
            reason = f"malformed line: {len(row)} fields where the header has {self.width}"
        return BadLine(first, reason, _shown(text))
