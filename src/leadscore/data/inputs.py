"""The one input normalisation: a raw CRM row, as the export writes it, to the model's inputs.

Training (leadscore.data.sources, then ingest) and scoring (batch CLI, Spark and the API, through
`leadscore.scoring.scorer`) apply the same rules, recorded in the model card under `inputs` and
sealed in the bundle with the joined tables the model reads (`lookups.json`):

1. **Lead id**: the export's id column (`data.id_column`, or the unique column found) is read as
   the lead id; an export without one gets the made id of `leadscore.data.ids`.
2. **Joined tables**: each joined table's fields are looked up by the lead's key in the sealed
   copy of that table (exact or normalised keys, as configured). A value the row already carries
   is kept: a caller may send fresher values than the export held.
3. **Missing-value tokens** (`data.missing_values`, e.g. `Select`) become missing in every text
   field, after surrounding spaces are stripped.
4. **Text clean-up**: categories are stripped of surrounding spaces; an empty text is missing.
   Numbers and yes/no values are read by the scorer with the same parsers as ingest.
5. **Units**: `money`, `percent` and `number` columns (`data.types`) are read as numbers by
   `leadscore.core.units` with the export's `data.number_format` (`$33K` is 33000.0, `18.00%`
   is 18.0); a value that does not read stays as written, so the scorer refuses the row with
   the reason ingest quarantines it for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from leadscore.core import fields
from leadscore.core.schema import InputNormalisation, Lookup
from leadscore.core.units import NumberFormat, parse_values
from leadscore.data.ids import made_ids
from leadscore.data.joins import left_join

__all__ = ["InputNormalisation", "Lookup"]  # defined with the lead schema (leadscore.core)

LOOKUPS_FILE = "lookups.json"  # in the bundle
INPUTS_FILE = "inputs.json"  # in data/raw: the normalisation and joined tables of an export


# --- the rules ------------------------------------------------------------------------------


def is_missing_token(value: object, tokens: frozenset[str] | set[str]) -> bool:
    """Whether one value means "not answered": a text that is a missing-value token once its
    surrounding spaces are stripped (the scalar form of `mark_missing`)."""
    return isinstance(value, str) and value.strip() in tokens


def clean_text(values: pd.Series) -> pd.Series:
    """Text stripped of surrounding spaces; empty text becomes missing (missing-value tokens
    are already missing: `mark_missing`)."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def mark_missing(frame: pd.DataFrame, missing_values: Sequence[str]) -> pd.DataFrame:
    """Values that mean "not answered" (e.g. `Select`) become missing in every text column."""
    if not missing_values:
        return frame
    marked = frame.copy()
    for column in marked.columns:
        if marked[column].dtype == object or pd.api.types.is_string_dtype(marked[column]):
            text = marked[column].astype("string").str.strip()
            marked[column] = marked[column].mask(text.isin(list(missing_values)))
    return marked


def number_format(inputs: InputNormalisation) -> NumberFormat:
    return NumberFormat(**inputs.number_format)


def read_units(frame: pd.DataFrame, inputs: InputNormalisation) -> pd.DataFrame:
    """Money, percent and number columns as numbers; a value that cannot be read is kept as
    written (the scorer refuses it with the unit's reason, as ingest quarantines it)."""
    present = [name for name in inputs.units if name in frame]
    if not present:
        return frame
    fmt = number_format(inputs)
    read = frame.copy()
    for name in present:
        values = read[name]
        parsed = parse_values(values, inputs.units[name], fmt)
        if pd.api.types.is_numeric_dtype(values) or not (parsed.isna() & values.notna()).any():
            read[name] = parsed
        else:
            read[name] = parsed.astype(object).where(parsed.notna(), values)
    return read


def with_lead_id(frame: pd.DataFrame, inputs: InputNormalisation) -> pd.DataFrame:
    """The rows with their lead id in `lead_id`: the id column's value, else a made id (when
    the export had none and the rows carry the columns it is made from)."""
    if inputs.id_column in frame:
        if inputs.id_column == fields.LEAD_ID:
            return frame
        return frame.assign(**{fields.LEAD_ID: frame[inputs.id_column]})
    if fields.LEAD_ID in frame:
        return frame
    if inputs.made_id and set(inputs.made_id_columns) <= set(frame.columns):
        return frame.assign(**{fields.LEAD_ID: made_ids(frame[list(inputs.made_id_columns)])})
    return frame


def looked_up(frame: pd.DataFrame, lookup: Lookup, table: pd.DataFrame) -> pd.DataFrame:
    """The rows with `lookup`'s fields filled from the sealed table where they are missing."""
    if lookup.key not in frame or table.empty:
        return frame
    right = table[[lookup.key, *lookup.columns]].rename(columns=lookup.columns)
    keys = frame[[lookup.key]].reset_index(drop=True)
    found = left_join(keys, right, lookup.key, lookup.normalised).drop(columns=[lookup.key])
    found.index = frame.index
    filled = frame.copy()
    for name in found.columns:
        filled[name] = (
            filled[name].where(filled[name].notna(), found[name]) if name in filled else found[name]
        )
    return filled


def normalise(
    frame: pd.DataFrame, inputs: InputNormalisation, tables: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Raw rows of an export (or of a scoring request) as the model's input table: lead id,
    joined fields, missing-value tokens, units. Categories are stripped when they are
    encoded."""
    frame = with_lead_id(frame, inputs)
    for lookup in inputs.lookups:
        frame = looked_up(frame, lookup, tables.get(lookup.table, pd.DataFrame()))
    return read_units(mark_missing(frame, inputs.missing_values), inputs)


def normalise_records(
    records: Sequence[Mapping[str, Any]],
    inputs: InputNormalisation,
    tables: Mapping[str, pd.DataFrame],
) -> list[Mapping[str, Any]]:
    """`normalise` for leads as plain values (validated API leads: texts, numbers, yes/no).

    A request holds a few leads, for which a DataFrame costs more than the scoring; so the rules
    that apply value by value (lead id, missing-value tokens) run here on the values, and what
    needs tables (joined fields, made ids, units written as text) goes through `normalise`
    itself. Property-tested against `normalise` (tests/unit/data/test_input_records.py)."""
    texts_in_units = any(
        isinstance(record.get(name), str) for record in records for name in inputs.units
    )
    needs_id = inputs.id_column != fields.LEAD_ID and any(
        inputs.id_column not in record and fields.LEAD_ID not in record for record in records
    )
    if inputs.lookups or texts_in_units or needs_id:
        frame = normalise(pd.DataFrame.from_records(list(records)), inputs, tables)
        frame = frame.astype(object).where(frame.notna(), None)
        normalised: list[Mapping[str, Any]] = frame.to_dict("records")
        return normalised
    if inputs.id_column == fields.LEAD_ID and not inputs.missing_values:
        return list(records)
    tokens = frozenset(inputs.missing_values)
    out: list[Mapping[str, Any]] = []
    for record in records:
        lead = {k: None if is_missing_token(v, tokens) else v for k, v in record.items()}
        if inputs.id_column in record:
            lead[fields.LEAD_ID] = lead[inputs.id_column]
        out.append(lead)
    return out


# --- the sealed tables ----------------------------------------------------------------------


def tables_record(
    inputs: InputNormalisation, tables: Mapping[str, pd.DataFrame]
) -> dict[str, dict[str, list]]:
    """The joined tables, restricted to the key and the looked-up columns, as JSON-able
    columns of text (what `lookups.json` in the bundle holds)."""
    record = {}
    for lookup in inputs.lookups:
        table = tables[lookup.table][[lookup.key, *lookup.columns]]
        table = table[table[lookup.key].notna()]
        record[lookup.table] = {
            str(c): [None if pd.isna(v) else str(v) for v in table[c]] for c in table.columns
        }
    return record


def tables_from_record(record: Mapping[str, Mapping[str, list]]) -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(dict(columns), dtype=object) for name, columns in record.items()}


def inputs_record(inputs: InputNormalisation, tables: Mapping[str, pd.DataFrame]) -> dict:
    """What the prepare stage writes to `data/raw/inputs.json` for the train stage to seal."""
    return {"normalisation": inputs.to_dict(), "tables": tables_record(inputs, tables)}


def sealed_inputs(record: Mapping, used: Sequence[str]) -> tuple[dict, dict]:
    """From `data/raw/inputs.json`: the card's `inputs` and the bundle's `lookups.json`, with
    only the joined fields the model reads (`used`)."""
    inputs = InputNormalisation.from_dict(record.get("normalisation"))
    inputs = inputs.restricted_to(used)
    tables = tables_from_record(record.get("tables", {}))
    return inputs.to_dict(), tables_record(inputs, tables)
