"""Reading a CRM export (one or more CSV/Parquet tables) into one raw lead table.

The `data` section of `params.yaml` says where the files are, how they join, which values mean
"missing", and which columns are the lead id, the creation date and the outcome. The result has
the pipeline's role columns (`lead_id`, `created_at`, `converted`, `won_at`) plus every other
column under its own name; typing, validation and the leakage guard happen at ingest.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.config import DataParams, ParamsError
from leadscore.core.io import read_table


def _require(frame: pd.DataFrame, column: str, key: str, where: str) -> None:
    if column not in frame.columns:
        close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamsError(f"data.{key}: {column!r} is not a column of {where}{hint}")


def read_tables(data: DataParams, base: Path) -> pd.DataFrame:
    """The leads table with every other table left-joined on its key."""
    if not data.files:
        raise ParamsError("data.files: no files configured (data.source is 'files')")
    frames = []
    for index, table in enumerate(data.files):
        path = (base / table.path).resolve()
        if not path.is_file():
            raise ParamsError(f"data.files[{index}].path: {path} not found")
        frames.append((index, table, path, read_table(path, dtype=str)))
    _, _, first_path, leads = frames[0]
    for index, table, path, frame in frames[1:]:
        key = table.join_on
        _require(leads, key, f"files[{index}].join_on", first_path.name)
        _require(frame, key, f"files[{index}].join_on", path.name)
        if frame[key].duplicated().any():
            raise ParamsError(
                f"data.files[{index}].join_on: {key!r} is not unique in {path.name}; "
                "each lead must match at most one row"
            )
        overlap = (set(frame.columns) & set(leads.columns)) - {key}
        frame = frame.rename(columns={c: f"{c} ({path.stem})" for c in overlap})
        leads = leads.merge(frame, on=key, how="left", validate="many_to_one")
    return leads


def mark_missing(frame: pd.DataFrame, missing_values: tuple[str, ...]) -> pd.DataFrame:
    """Values that mean "not answered" (e.g. `Select`) become missing."""
    if not missing_values:
        return frame
    marked = frame.copy()
    for column in marked.columns:
        if marked[column].dtype == object or pd.api.types.is_string_dtype(marked[column]):
            text = marked[column].astype("string").str.strip()
            marked[column] = marked[column].mask(text.isin(missing_values))
    return marked


def find_id_column(frame: pd.DataFrame, where: str) -> str:
    """`data.id_column: null`: the first column unique per row with an id-like name (else the
    first unique text column)."""
    from leadscore.data.leakage import ID_NAME

    unique = [c for c in frame.columns if frame[c].notna().all() and frame[c].is_unique]
    named = [c for c in unique if ID_NAME.search(str(c).strip())]
    text = [c for c in unique if not pd.api.types.is_numeric_dtype(frame[c])]
    if named or text:
        return (named or text)[0]
    raise ParamsError(
        f"data.id_column: no column of {where} is unique per lead; name the id column"
    )


def assign_roles(
    frame: pd.DataFrame, data: DataParams, window_days: int, where: str
) -> pd.DataFrame:
    """Rename the role columns to the pipeline's names and derive `converted`.

    The id is copied to `lead_id` and its column stays, so the leakage guard reports it among
    the identifiers it excludes (an id is never an input).
    """
    id_column = data.id_column or find_id_column(frame, where)
    _require(frame, id_column, "id_column", where)
    if id_column != fields.LEAD_ID:
        frame = frame.assign(**{fields.LEAD_ID: frame[id_column]})
    renames = economics_renames(frame, data, where)
    if data.created_column:
        _require(frame, data.created_column, "created_column", where)
        renames[data.created_column] = fields.CREATED_AT
    outcome = data.outcome
    if outcome.column:
        _require(frame, outcome.column, "outcome.column", where)
    else:
        _require(frame, outcome.won_date_column, "outcome.won_date_column", where)
        renames[outcome.won_date_column] = fields.WON_AT
    taken = set(renames.values()) & (set(frame.columns) - set(renames) - {fields.LEAD_ID})
    if taken:
        raise ParamsError(f"data: the export already has columns named {sorted(taken)}")
    table = frame.rename(columns=renames)
    if outcome.column:
        positive = {str(v).strip().lower() for v in outcome.positive_values}
        values = table.pop(outcome.column)
        text = values.astype("string").str.strip().str.lower()
        table[fields.CONVERTED] = np.where(values.isna(), None, text.isin(positive))
    else:
        created = pd.to_datetime(table[fields.CREATED_AT], errors="coerce")
        won = pd.to_datetime(table[fields.WON_AT], errors="coerce")
        in_window = won.notna() & ((won - created).dt.days <= window_days)
        table[fields.CONVERTED] = in_window
    return table


def economics_renames(frame: pd.DataFrame, data: DataParams, where: str) -> dict[str, str]:
    """The export's won-value and per-lead cost columns under the names the funnel reads."""
    renames = {}
    for key, column, role in (
        ("value_column", data.value_column, fields.DEAL_VALUE),
        ("cost_column", data.cost_column, fields.LEAD_COST),
    ):
        if column:
            _require(frame, column, key, where)
            renames[column] = role
    return renames


def load_export(data: DataParams, window_days: int, base: Path = Path(".")) -> pd.DataFrame:
    """The configured export as one raw lead table with role columns."""
    frame = mark_missing(read_tables(data, base), data.missing_values)
    return assign_roles(frame, data, window_days, Path(data.files[0].path).name)
