"""Choosing an export's lead id: a configured column, one found unique per lead, or a stable
id made from the fields known at creation; and what happens to an id column blank or repeated
for some rows (`data.incomplete_id`)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from leadscore.core import fields, outcome
from leadscore.core.data_params import DataParams
from leadscore.core.fields import ID_NAME
from leadscore.core.params_file import ParamsError
from leadscore.core.units import UNIT_KINDS
from leadscore.data.export_roles import require_column
from leadscore.data.ids import (
    MADE_ID_RULE,
    id_gaps,
    made_id_fields,
    made_ids,
    near_id_column,
    unique_id_column,
)

log = logging.getLogger(__name__)


def _outcome_columns(data: DataParams) -> tuple[str, ...]:
    return tuple(c for c in (data.outcome.column, data.outcome.won_date_column) if c)


INCOMPLETE_ID = {
    "make": "made an id for every row (data.incomplete_id: make)",
    "refuse": "refused the export (data.incomplete_id: refuse)",
    "keep_first": "kept the first row of each id; blank and repeated rows are quarantined "
    "(data.incomplete_id: keep_first)",
}


def never_hashed(frame: pd.DataFrame, data: DataParams, gapped: str | None) -> dict[str, str]:
    """Columns a made id never hashes, by their role, with the reason."""
    roles = {
        "the outcome": _outcome_columns(data),
        "a date": (data.created_column, data.first_contact_column),
        "a value": (data.value_column, data.cost_column),
        "a follow-up field": (data.touches_column, data.owner_column),
        "excluded by configuration (data.exclude)": data.exclude,
        "an id column with gaps": (gapped,),
    }
    never = {c: "a date" for c, kind in data.types.items() if kind == "date"}
    never |= {c: "a value (money or percent)" for c, k in data.types.items() if k in UNIT_KINDS}
    for reason, columns in roles.items():
        never |= {c: reason for c in columns if c}
    return {c: why for c, why in never.items() if c in frame}


def open_leads(frame: pd.DataFrame, data: DataParams) -> pd.Series | None:
    """Where the export's status says the lead is still open (None without statuses)."""
    spec = data.outcome
    if not spec.has_status or spec.column not in frame:
        return None
    status, _ = outcome.classify_status(
        frame[spec.column], spec.won_values, spec.lost_values, spec.open_values
    )
    return (status == outcome.OPEN).fillna(False).astype(bool)


def id_decision(frame: pd.DataFrame, source: str, data: DataParams, where: str) -> dict:
    """What happens to an id column blank or repeated for some rows (`data.incomplete_id`):
    the counts and the decision (refusing raises)."""
    gaps = id_gaps(frame[source])
    if not gaps:
        return {}
    counts = f"{gaps['blank']:,} of {len(frame):,} rows blank, {gaps['repeated']:,} repeated"
    decision = INCOMPLETE_ID[data.incomplete_id]
    if data.incomplete_id == "refuse":
        raise ParamsError(
            f"data.id_column: {source!r} in {where} is not a complete id ({counts}); "
            "data.incomplete_id is 'refuse'. Fix the export, or set data.incomplete_id to "
            "'make' (an id made per row) or 'keep_first'"
        )
    log.warning("data.id_column: %r is not a complete id (%s): %s", source, counts, decision)
    return {"id_column_gaps": {"column": source, **gaps, "decision": decision}}


def with_lead_id(
    frame: pd.DataFrame, data: DataParams, where: str = "the leads table"
) -> tuple[pd.DataFrame, dict]:
    """The leads table with its id in `lead_id`, and how the id was chosen.

    A configured column is used; with `data.id_column: null` a column unique per lead is
    looked for, else an id-like column with gaps. A column blank or repeated for some rows is
    dealt with by `data.incomplete_id` (`id_decision`). When no column is the id, a stable id
    is made from the fields known when the lead was created (rule in leadscore.data.ids).
    """
    roles = (*_outcome_columns(data), data.created_column or "")
    if data.id_column:
        require_column(frame, data.id_column, "id_column", where)
        source: str | None = data.id_column
        rule = "configured (data.id_column)"
    else:
        found, near = unique_id_column(frame, roles), near_id_column(frame, roles)
        named = found is not None and bool(ID_NAME.search(found.strip()))
        source = found if named or near is None else near  # an id with gaps beats a text
        rule = "found: the first column unique per lead (data.id_column: null)"
    decision = id_decision(frame, source, data, where) if source else {}
    gapped = None
    if decision and data.incomplete_id == "make":
        source, gapped = None, decision["id_column_gaps"]["column"]
    if source is None:
        never = never_hashed(frame, data, gapped)
        hashed, left_out = made_id_fields(
            frame, never, open_leads(frame, data), data.missing_values
        )
        if not hashed:
            why = "; ".join(f"{c}: {w}" for c, w in left_out.items())
            raise ParamsError(
                f"data.id_column: {where} has no usable id, and no field known when the lead "
                f"is created to make one from ({why}); set data.id_column"
            )
        ids = made_ids(frame[hashed])
        if fields.LEAD_ID in frame.columns:  # a non-unique column of that name: keep it aside
            frame = frame.rename(columns={fields.LEAD_ID: f"{fields.LEAD_ID} (export)"})
        log.warning(
            "data.id_column: no column is a complete id; made a stable id per row from %s (%s)",
            ", ".join(hashed),
            MADE_ID_RULE,
        )
        report: dict[str, Any] = {"column": fields.LEAD_ID, "source_column": None, "made": True}
        report |= {"rule": MADE_ID_RULE, "hashed_columns": hashed, "left_out": left_out}
        return frame.assign(**{fields.LEAD_ID: ids.to_numpy()}), report | decision
    if source != fields.LEAD_ID:
        frame = frame.assign(**{fields.LEAD_ID: frame[source]})
    report = {"column": fields.LEAD_ID, "source_column": source, "made": False, "rule": rule}
    return frame, report | decision
