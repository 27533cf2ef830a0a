"""Value rules shared by ingest and scoring: how a raw CRM value becomes a boolean, and the
bound of a non-negative field."""

from __future__ import annotations

import numpy as np
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


# A non-negative field (counts, minutes, revenue; `FeatureSpec.non_negative`) has this lower
# bound. Ingest (pandera), batch scoring and the API request schema all enforce this one rule.
NON_NEGATIVE_MIN = 0
NEGATIVE_REASON = f"must be >= {NON_NEGATIVE_MIN}"


def below_minimum(values: np.ndarray | pd.Series) -> np.ndarray:
    """Where a value of a non-negative field breaks its bound (missing values do not)."""
    return np.asarray(values < NON_NEGATIVE_MIN, dtype=bool)
