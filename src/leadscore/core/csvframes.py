"""CSV records as a pandas frame, the way `pandas.read_csv` would make it: text columns with the
words pandas reads as missing made missing (`text_frame`), Arrow's fast parser for a plain file
(`plain_text_frame`: no quote, no bad byte, no ragged line; anything else goes to the strict
reader, `leadscore.core.csvfile.CsvRecords`), and text typed as numbers or true/false
(`parsed_values`)."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.core.csvfile import UNDECODED, column_names
from leadscore.core.csvformat import CsvFormat

try:  # the words pandas reads as missing, so CSV text means what `read_csv` made of it
    from pandas._libs.parsers import STR_NA_VALUES as NA_TEXT
except ImportError:  # a pandas that moved it: the same list
    NA_TEXT = {"", "#N/A", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "<NA>"}

NA_CELLS = pa.array(sorted(NA_TEXT), pa.string())
LINE_BREAK = re.compile(r"\r\n?|\n")  # where the csv module ends a line


def text_frame(rows: list[list[str]], columns: list[str]) -> pd.DataFrame:
    """Rows of text as a frame of text columns (pandas' `str`, as `read_csv(dtype=str)`
    makes); the words pandas reads as missing (`NA_TEXT`: "", "NA", "null", ...) are missing.

    All cells go into one Arrow array, row after row; column j is every width-th cell from j."""
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype="str") for name in columns}, columns=columns)
    width, count = len(columns), len(rows)
    cells = pa.array(list(itertools.chain.from_iterable(rows)), pa.string())
    cells = pc.if_else(pc.is_in(cells, value_set=NA_CELLS), pa.scalar(None, pa.string()), cells)
    arrays = [pc.take(cells, pa.array(np.arange(j, count * width, width))) for j in range(width)]
    frame = pa.Table.from_arrays(arrays, names=[str(j) for j in range(width)]).to_pandas()
    frame.columns = pd.Index(columns)
    return frame


def plain_text_frame(path: Path, fmt: CsvFormat) -> tuple[pd.DataFrame, list[str]] | None:
    """The file as `text_frame` makes it, read by Arrow's CSV parser, when the file is plain:
    no quote character at all (so each physical line is one record), every byte valid in its
    encoding, and every non-blank line as wide as the header. Anything else (a quote, a bad
    byte, a ragged or whitespace-only line, no data row) is None: the strict reader
    (`CsvRecords`) reads it, with its line numbers and reasons. Returns the frame and the
    header as written."""
    import pyarrow.csv as pacsv

    if path.suffix.lower() == ".gz":
        return None
    text = path.read_bytes().decode(fmt.encoding, errors="surrogateescape")
    limit = csv.field_size_limit()
    if '"' in text or "\0" in text or UNDECODED.search(text):
        return None
    if len(text) > limit and max(map(len, LINE_BREAK.split(text))) > limit:
        return None  # a field longer than the csv module's limit: a bad line there
    first = re.search(r"[^\r\n]+", text)
    if first is None:
        return None
    width = len(first.group(0).split(fmt.sep))
    names = [f"f{j}" for j in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=fmt.sep, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid:  # a line of another width than the header's
        return None
    if table.num_rows < 2:
        return None
    header = [table.column(j)[0].as_py() for j in range(width)]
    nulls = pa.scalar(None, pa.string())
    arrays = []
    for j in range(width):
        cells = table.column(j).slice(1).combine_chunks()
        arrays.append(pc.if_else(pc.is_in(cells, value_set=NA_CELLS), nulls, cells))
    frame = pa.Table.from_arrays(arrays, names=[str(j) for j in range(width)]).to_pandas()
    frame.columns = pd.Index(column_names(header))
    return frame, header


def parsed_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns typed as `pandas.read_csv` would: numbers, true/false, else text."""
    typed = {}
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        if len(present) and present.str.lower().isin(("true", "false")).all():
            flags = {v: v.lower() == "true" for v in present.unique()}  # each distinct text once
            typed[name] = column.map(flags)
            continue
        if len(present) and not _reads_as_number(present.iloc[0]):
            typed[name] = column  # text: to_numeric would refuse its first value
            continue
        try:
            typed[name] = pd.to_numeric(column)
        except (ValueError, TypeError):
            typed[name] = column
    return pd.DataFrame(typed, index=frame.index, columns=frame.columns)


def _reads_as_number(text: str) -> bool:
    """Whether Python reads the text as a float (pandas' `to_numeric` reads no text Python
    refuses, so a column whose first value fails here is text without parsing it all)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
