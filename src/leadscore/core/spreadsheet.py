"""CSV cells a spreadsheet opens safely: a text cell a spreadsheet would run as a formula (text
starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`;
plain numbers, negative ones included, are left as they are."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, with a leading `'` (OWASP's advice);
    a plain number written as text (`-2`, `+3.5`) and everything else as it is."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and PLAIN_NUMBER.fullmatch(value) is None
    ):
        return "'" + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell made safe (`spreadsheet_safe`); numeric columns untouched."""
    text = [
        name
        for name in frame.columns
        if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name].dtype)
    ]
    if not text:
        return frame
    safe = frame.copy()
    for name in text:
        column = safe[name]
        starts = column.astype("string").str.startswith(FORMULA_START).fillna(False)
        if starts.any():
            mask = starts.to_numpy(bool)
            values = column.to_numpy(dtype=object).copy()
            values[mask] = [spreadsheet_safe(v) for v in values[mask]]
            safe[name] = np.asarray(values, dtype=object)
    return safe
