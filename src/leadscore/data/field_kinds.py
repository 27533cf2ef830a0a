"""The kind of each column of a CRM export (categorical, numeric, boolean or date), from its
values and a date-like name; `data.types` overrides it."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from leadscore.core import fields
from leadscore.core.fields import DATE_NAME
from leadscore.core.values import FALSE_TOKENS, TRUE_TOKENS
from leadscore.data.dates import DATE_VALUE, mostly

ROLE_COLUMNS = (
    fields.LEAD_ID,
    fields.CREATED_AT,
    fields.CONVERTED,
    fields.WON_AT,
    fields.OUTCOME_STATUS,
)


def infer_kind(values: pd.Series, name: str) -> str:
    """categorical | numeric | boolean | date, from the values (and a date-like name)."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    text = present.astype(str).str.strip().str.lower()
    if len(text) and text.nunique() <= 2 and text.isin(TRUE_TOKENS | FALSE_TOKENS).all():
        return "boolean"
    if mostly(pd.to_numeric(text, errors="coerce").notna()):
        return "numeric"
    if DATE_NAME.search(name) or mostly(text.str.fullmatch(DATE_VALUE)):
        parsed = pd.to_datetime(present.astype(str), errors="coerce", format="mixed")
        if mostly(parsed.notna()):
            return "date"
    return "categorical"


def infer_kinds(frame: pd.DataFrame, overrides: Mapping[str, str]) -> dict[str, str]:
    """The kind of every non-role column; overrides from `data.types` win."""
    return {
        name: overrides.get(name) or infer_kind(frame[name], name)
        for name in frame.columns
        if name not in ROLE_COLUMNS
    }
