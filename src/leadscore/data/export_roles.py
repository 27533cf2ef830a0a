"""The role columns of an export: the configured columns renamed to the pipeline's names
(creation, won date, value, cost, follow-up) and the outcome label derived by the outcome rule
(leadscore.core.outcome), with its counts."""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from leadscore.core import fields, outcome
from leadscore.core.data_params import DataParams
from leadscore.core.params_file import ParamsError


def require_column(frame: pd.DataFrame, column: str, key: str, where: str) -> None:
    """Refuse a configured column the table lacks, naming the key and the closest column."""
    if column not in frame.columns:
        close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamsError(f"data.{key}: {column!r} is not a column of {where}{hint}")


def _status_label(table: pd.DataFrame, data: DataParams, window_days: int) -> dict:
    """converted and outcome_status from a status column listing won / lost / open values."""
    spec = data.outcome
    values = table.pop(spec.column)
    status, unlisted = outcome.classify_status(
        values, spec.won_values, spec.lost_values, spec.open_values
    )
    if unlisted:
        shown = ", ".join(f"{value!r} ({count:,})" for value, count in unlisted.items())
        raise ParamsError(
            f"data.outcome: {spec.column!r} has values listed in none of won_values, "
            f"lost_values, open_values: {shown}. Add each to the list it belongs to"
        )
    created = table.get(fields.CREATED_AT)
    won = table.get(fields.WON_AT)
    converted = outcome.label(status, created, won, window_days)
    table[fields.CONVERTED] = converted
    table[fields.OUTCOME_STATUS] = status
    late = (status == outcome.WON).fillna(False) & (converted == False).fillna(False)  # noqa: E712
    counts = status.fillna("missing").value_counts()
    return {
        "rule": "status: won, lost and open values listed; open leads are never negatives",
        "column": spec.column,
        **{name: int(counts.get(name, 0)) for name in (*outcome.STATUSES, "missing")},
        "won_after_window": int(late.sum()),
    }


def assign_roles(
    frame: pd.DataFrame, data: DataParams, window_days: int, where: str
) -> tuple[pd.DataFrame, dict]:
    """Rename the role columns to the pipeline's names and derive `converted` (the outcome
    rule is leadscore.core.outcome); also the outcome counts.

    The id's own column stays beside `lead_id`, so the leakage guard reports it among the
    identifiers it excludes (an id is never an input).
    """
    renames = economics_renames(frame, data, where)
    if data.created_column:
        require_column(frame, data.created_column, "created_column", where)
        renames[data.created_column] = fields.CREATED_AT
    spec = data.outcome
    if spec.column:
        require_column(frame, spec.column, "outcome.column", where)
    if spec.won_date_column:
        require_column(frame, spec.won_date_column, "outcome.won_date_column", where)
        renames[spec.won_date_column] = fields.WON_AT
    roles = {fields.LEAD_ID, fields.CONVERTED, fields.OUTCOME_STATUS}
    taken = (set(renames.values()) | roles - {fields.LEAD_ID}) & (
        set(frame.columns) - set(renames) - {fields.LEAD_ID, spec.column}
    )
    if taken:
        raise ParamsError(f"data: the export already has columns named {sorted(taken)}")
    table = frame.rename(columns=renames)
    if spec.has_status:
        return table, _status_label(table, data, window_days)
    if spec.column:
        positive = {str(v).strip().lower() for v in spec.positive_values}
        values = table.pop(spec.column)
        text = values.astype("string").str.strip().str.lower()
        table[fields.CONVERTED] = np.where(values.isna(), None, text.isin(positive))
        rule = "positive values: anything else is not won; the window censors open windows"
    else:
        table[fields.CONVERTED] = outcome.won_within_window(
            table[fields.CREATED_AT], table[fields.WON_AT], window_days
        )
        rule = "won date: won within the outcome window; the window censors open windows"
    converted = pd.Series(table[fields.CONVERTED])
    return table, {
        "rule": rule,
        "column": spec.column or spec.won_date_column,
        "won": int((converted == True).sum()),  # noqa: E712
        "not_won": int((converted == False).sum()),  # noqa: E712
        "missing": int(converted.isna().sum()),
    }


def economics_renames(frame: pd.DataFrame, data: DataParams, where: str) -> dict[str, str]:
    """The export's won-value and per-lead cost columns under the names the funnel reads, and
    its follow-up columns under the names the follow-up view reads."""
    renames = {}
    for key, column, role in (
        ("value_column", data.value_column, fields.DEAL_VALUE),
        ("cost_column", data.cost_column, fields.LEAD_COST),
        ("first_contact_column", data.first_contact_column, fields.FIRST_CONTACT_AT),
        ("touches_column", data.touches_column, fields.SALES_TOUCHES),
        ("owner_column", data.owner_column, fields.OWNER),
    ):
        if column:
            require_column(frame, column, key, where)
            renames[column] = role
    return renames
