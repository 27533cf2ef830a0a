"""Value tokens shared by ingest and scoring: how a raw CRM value becomes a boolean."""

from __future__ import annotations

import pandas as pd

TRUE_TOKENS = {"true", "1", "yes", "y", "t"}


FALSE_TOKENS = {"false", "0", "no", "n", "f"}


def parse_bool(values: pd.Series) -> pd.Series:
    """Booleans from a CRM export (true/false, 1/0, yes/no, ...); anything else is missing."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(TRUE_TOKENS)] = True
    parsed[text.isin(FALSE_TOKENS)] = False
    return parsed
