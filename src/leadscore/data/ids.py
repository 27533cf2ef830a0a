"""The lead id of an export: a configured column, a column found unique per lead, or a made one.

Rule for a made id (exports without a usable id): `row-` + the first 12 hex digits of the
SHA-256 of the row's raw values in the fields known when the lead is created
(`made_id_fields`), then `-<n>` for the n-th repeat of identical values (n >= 2) in file order.
Left out are the outcome and status, dates, values (deal value, cost, money and percent
columns), the follow-up columns, fields the leakage review's names mark post-contact or
status-like (`Loss Reason`, `Stage`, ...), fields empty for every open lead (filled in with the
outcome: a discount code, a close note) and an id column with gaps. The same export gives the
same ids on every run, and a lead keeps its id when rows are added, removed or reordered, or
when its outcome, close date and loss reason are filled in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence

import pandas as pd

from leadscore.core.fields import DATE_NAME, ID_NAME
from leadscore.core.schema import MADE_ID_RULE
from leadscore.core.units import propose_unit_type
from leadscore.data.dates import DATE_VALUE
from leadscore.data.leakage_evidence import name_cues

__all__ = [
    "MADE_ID_RULE",
    "hashed_after_creation",
    "id_gaps",
    "made_id_fields",
    "made_ids",
    "unique_id_column",
]

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


def near_id_column(frame: pd.DataFrame, roles: tuple[str, ...] = ()) -> str | None:
    """The first column with an id-like name whose values are ids with gaps: present in at
    least half the rows, and at least 80 % of the present values distinct (`id_gaps` counts
    the gaps); None when there is none."""
    for column in frame.columns:
        if column in roles or not ID_NAME.search(str(column).strip()):
            continue
        present = blank_as_missing(frame[column]).dropna()
        if len(present) >= 0.5 * len(frame) and present.nunique() >= 0.8 * len(present):
            return str(column)
    return None


def blank_as_missing(values: pd.Series, tokens: Collection[str] = ()) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask((text == "") | text.isin(list(tokens)))


def id_gaps(values: pd.Series) -> dict[str, int]:
    """How many rows of an id column are blank, and how many repeat an id an earlier row
    has (empty when the column is a complete id)."""
    present = blank_as_missing(values)
    blank = int(present.isna().sum())
    repeated = int(present.dropna().duplicated().sum())
    return {"blank": blank, "repeated": repeated} if blank or repeated else {}


def made_id_fields(
    frame: pd.DataFrame,
    never: Mapping[str, str],
    open_rows: pd.Series | None = None,
    tokens: Collection[str] = (),
) -> tuple[list[str], dict[str, str]]:
    """The columns a made id hashes (fields known when the lead is created) and, for each
    column left out, why. `never`: columns left out by their role (outcome, dates, values,
    follow-up), with the reason; `open_rows`: where the lead is still open (a column empty in
    every open lead is filled in with the outcome)."""
    hashed, left_out = [], {}
    for column in frame.columns:
        name = str(column)
        values = blank_as_missing(frame[column], tokens)
        present = values.dropna()
        if name in never:
            left_out[name] = never[name]
        elif DATE_NAME.search(name) or (
            len(present) and present.str.fullmatch(DATE_VALUE).mean() >= 0.5
        ):
            left_out[name] = "a date"
        elif name_cues(name):
            left_out[name] = "named like a post-contact or status field (" + (
                ", ".join(name_cues(name)) + ")"
            )
        elif propose_unit_type(present) is not None:
            left_out[name] = "a value (money or percent)"
        elif open_rows is not None and open_rows.any() and values[open_rows].isna().all():
            left_out[name] = "empty for every open lead: filled in with the outcome"
        else:
            hashed.append(name)
    return hashed, left_out


# The leakage review's findings that a field is recorded after the lead's creation (contact or
# outcome): such a field must not be hashed into the made id.
AFTER_CREATION = (
    "present only for",
    "post-contact",
    "post-creation",
    "predicts the outcome alone",
    "missingness tracks the outcome",
    "still filled in after creation",
)


def hashed_after_creation(hashed: Sequence[str], review: Mapping[str, Mapping]) -> dict:
    """Hashed fields the leakage review finds recorded after creation, with its findings."""
    found = {}
    for name in hashed:
        reasons = [
            r for r in review.get(name, {}).get("reasons", ()) if r.startswith(AFTER_CREATION)
        ]
        if reasons:
            found[name] = reasons
    return found


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
