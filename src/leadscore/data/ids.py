"""The lead id of an export: a configured column, a column found unique per lead, or a made one.

Rule for a made id (exports without an id): `row-` + the first 12 hex digits of the SHA-256 of
the row's raw values (every column of the leads table except the outcome columns, whose values
change while a lead is worked), then `-<n>` for the n-th repeat of an identical row (n >= 2) in
file order. The same file gives the same ids on every run, and a lead keeps its id when rows are
added, removed or reordered, or when its outcome is updated.
"""

from __future__ import annotations

import hashlib
import logging

import pandas as pd

from leadscore.core.fields import DATE_NAME, ID_NAME
from leadscore.core.schema import MADE_ID_RULE

__all__ = ["MADE_ID_RULE", "made_ids", "unique_id_column"]

log = logging.getLogger(__name__)

SEPARATOR = "\x1f"  # unit separator: cannot occur inside a CSV value by accident


def _is_text(values: pd.Series, name: str) -> bool:
    """Words rather than numbers or dates (a unique amount or timestamp is no id)."""
    if pd.api.types.is_numeric_dtype(values) or DATE_NAME.search(name):
        return False
    return bool(pd.to_numeric(values, errors="coerce").isna().mean() > 0.5)


def unique_id_column(frame: pd.DataFrame, roles: tuple[str, ...] = ()) -> str | None:
    """The first column unique per row with an id-like name (else the first unique text
    column), or None when no column is unique per lead. `roles` (the date and outcome
    columns) are never the id."""
    unique = [
        c for c in frame.columns if c not in roles and frame[c].notna().all() and frame[c].is_unique
    ]
    named = [c for c in unique if ID_NAME.search(str(c).strip())]
    text = [c for c in unique if _is_text(frame[c], str(c))]
    candidates = named or text
    return candidates[0] if candidates else None


def made_ids(frame: pd.DataFrame) -> pd.Series:
    """A stable id per row from the raw values of `frame`'s columns (pass the leads table
    without its outcome columns; see the module docstring for the rule)."""
    if frame.columns.empty:
        raise ValueError("cannot make ids from a table without columns")
    text = frame.astype("string").fillna("\x00")
    joined = text.iloc[:, 0].str.cat(text.iloc[:, 1:], sep=SEPARATOR)
    digest = joined.map(lambda row: hashlib.sha256(row.encode("utf-8")).hexdigest()[:12])
    repeat = digest.groupby(digest).cumcount() + 1
    suffix = repeat.map(lambda n: f"-{n}" if n > 1 else "")
    return ("row-" + digest + suffix).rename(None)
