"""Reading a batch input: a CSV file by the one CSV rule training reads exports with, or a Parquet
file, in chunks of raw leads with the line (CSV) or row (Parquet) of each, and what reading found
(the line accounting a run checks at the end). A line that cannot be read is kept with its reason;
an input that cannot be scored as a whole raises `BatchInputError`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.core.csvfile import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    BadLine,
    CsvFormat,
    CsvRecords,
    LineCounts,
    TableReadError,
    detect_csv_format,
)
from leadscore.core.csvframes import text_frame


class BatchInputError(ValueError):
    """The input file as a whole cannot be scored."""


class BatchAccountingError(BatchInputError):
    """The rows written (scored + rejected) are not the rows read: the run is refused."""


@dataclass
class RawChunk:
    """Raw leads of one chunk, the input line (CSV) or row (Parquet) of each, 1-based, and the
    lines that could not be read at all (line, reason, raw text)."""

    frame: pd.DataFrame
    lines: np.ndarray
    malformed: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class InputRead:
    """What reading the input found: the line accounting of a CSV file (`LineCounts`), or the
    rows of a Parquet file."""

    path: Path
    counts: LineCounts = field(default_factory=LineCounts)
    format: CsvFormat | None = None

    @property
    def rows(self) -> int:
        return self.counts.rows

    def describe(self) -> str:
        if self.format is None:
            return f"{self.rows:,} rows"
        c = self.counts
        return (
            f"{c.lines:,} lines ({c.header} header, {c.blank:,} blank, {c.rows:,} rows; "
            f"{self.format.describe()})"
        )


def read_chunks(
    path: Path, chunk_size: int, sep: str | None = None, encoding: str | None = None
) -> tuple[Iterator[RawChunk], InputRead]:
    """Chunks of a CSV (all columns as text, parsed later) or Parquet file, and what reading
    finds (filled in as the chunks are read)."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise BatchInputError(f"{path}: not a readable Parquet file ({error})") from None
        if parquet.metadata.num_rows == 0:
            raise BatchInputError(f"{path} holds no leads (0 rows)")
        read = InputRead(path)
        return parquet_chunks(parquet, chunk_size, read.counts), read
    if suffix in CSV_SUFFIXES:  # the suffixes training reads as CSV
        read = InputRead(path, format=detect_csv_format(path, sep, encoding))
        return csv_chunks(read, chunk_size), read
    raise BatchInputError(f"{path}: expected a .csv (.txt, .tsv, .psv, .gz) or .parquet file")


def parquet_chunks(
    parquet: pq.ParquetFile, chunk_size: int, counts: LineCounts
) -> Iterator[RawChunk]:
    start = 1
    for batch in parquet.iter_batches(batch_size=chunk_size):
        frame = batch.to_pandas()
        counts.records += len(frame)
        yield RawChunk(frame, np.arange(start, start + len(frame)))
        start += len(frame)


def csv_chunks(read: InputRead, chunk_size: int) -> Iterator[RawChunk]:
    """CSV rows in chunks, read by the one CSV rule training reads exports with
    (`leadscore.core.csvfile`): a line that cannot be read is set aside with its number."""
    assert read.format is not None
    try:
        with CsvRecords(read.path, read.format) as records:
            read.counts = records.counts
            rows: list[list[str]] = []
            lines: list[int] = []
            malformed: list[tuple[int, str, str]] = []
            for item in records:
                if isinstance(item, BadLine):
                    malformed.append((item.line, item.reason, item.raw))
                else:
                    lines.append(item[0])
                    rows.append(item[1])
                if len(rows) + len(malformed) >= chunk_size:
                    yield text_chunk(rows, records.header, lines, malformed)
                    rows, lines, malformed = [], [], []
            if rows or malformed:
                yield text_chunk(rows, records.header, lines, malformed)
            elif not records.counts.rows:
                raise BatchInputError(f"{read.path} holds a header but no leads")
            records.counts.check(read.path)
    except TableReadError as error:
        raise BatchInputError(str(error)) from None


def text_chunk(
    rows: list[list[str]],
    header: list[str],
    lines: list[int],
    malformed: list[tuple[int, str, str]],
) -> RawChunk:
    frame = text_frame(rows, header)
    return RawChunk(frame, np.asarray(lines, dtype=np.int64), list(malformed))
