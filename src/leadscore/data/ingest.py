"""Ingest stage: type the raw lead table, validate it, and quarantine bad rows with a reason.

No row is dropped silently: every rejected row lands in the quarantine file with the reason(s)
it failed, and the validation summary counts them by reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pandera.pandas as pa

from leadscore.core import fields, outcome
from leadscore.core.config import Params
from leadscore.core.errors import LeadscoreError
from leadscore.core.units import (
    DEFAULT_FORMAT,
    UNIT_KINDS,
    NumberFormat,
    parse_values,
    propose_unit_type,
    unparseable_reason,
)
from leadscore.core.values import NON_NEGATIVE_MIN, below_minimum, parse_bool

log = logging.getLogger(__name__)

REASON_COLUMN = "quarantine_reason"


@dataclass(frozen=True)
class LeadTableSpec:
    """What the ingest stage expects of a lead table: its columns by type and allowed values."""

    id_column: str = fields.LEAD_ID
    created_column: str | None = fields.CREATED_AT
    categorical: tuple[str, ...] = (
        fields.CATEGORICAL_FEATURES + fields.POST_CONTACT_FIELDS + (fields.OWNER,)
    )
    numeric: tuple[str, ...] = fields.NUMERIC_FEATURES + (fields.DEAL_VALUE, fields.SALES_TOUCHES)
    boolean: tuple[str, ...] = fields.BOOLEAN_FEATURES + (fields.CONVERTED,)
    dates: tuple[str, ...] = (fields.CREATED_AT, fields.WON_AT, fields.FIRST_CONTACT_AT)
    required: tuple[str, ...] = (fields.LEAD_ID, fields.CREATED_AT, fields.CONVERTED)
    non_negative: tuple[str, ...] = fields.NON_NEGATIVE_FIELDS
    allowed_values: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "channel": fields.CHANNELS,
            "industry": fields.INDUSTRIES,
            "company_size": fields.COMPANY_SIZES,
            "region": fields.REGIONS,
            "seniority": fields.SENIORITIES,
            "department": fields.DEPARTMENTS,
            "sales_status": fields.SALES_STATUSES,
            "form_variant": fields.FORM_VARIANTS,
        }
    )
    won_column: str | None = fields.WON_AT
    units: dict[str, str] = field(default_factory=dict)  # numeric columns written with units
    number_format: NumberFormat = NumberFormat()

    @property
    def columns(self) -> tuple[str, ...]:
        typed = (*self.categorical, *self.numeric, *self.boolean, *self.dates)
        return tuple(dict.fromkeys((self.id_column, *typed)))


@dataclass(frozen=True)
class IngestResult:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict


class LeadTableError(LeadscoreError, ValueError):
    """The table as a whole cannot be ingested (missing columns, too many bad rows)."""


def coerce_types(raw: pd.DataFrame, spec: LeadTableSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Cast each column to its role's type; values that cannot be cast become reasons per row."""
    missing = [column for column in spec.columns if column not in raw.columns]
    if missing:
        raise LeadTableError(f"lead table lacks required columns: {', '.join(missing)}")
    typed = pd.DataFrame(index=raw.index)
    problems: list[pd.Series] = []

    def note(column: str, bad: pd.Series, what: str) -> None:
        if bad.any():
            shown = raw.loc[bad, column].astype(str).str.slice(0, 40)
            problems.append(column + ": " + what + " ('" + shown + "')")

    for column in spec.columns:
        values = raw[column]
        if column in spec.units:  # money, percent, number: leadscore.core.units
            kind = spec.units[column]
            typed[column] = parse_values(values, kind, spec.number_format)
            blank = values.astype("string").str.strip() == ""
            bad = typed[column].isna() & values.notna() & ~blank.fillna(False)
            note(column, bad, unparseable_reason(kind, spec.number_format))
        elif column in spec.numeric:
            typed[column] = pd.to_numeric(values, errors="coerce").astype("float64")
            bad = typed[column].isna() & values.notna()
            unit = propose_unit_type(values[bad]) if bad.any() else None
            hint = f" (data.types: {unit} reads it)" if unit else ""
            note(column, bad, "not a number" + hint)
        elif column in spec.boolean:
            typed[column] = parse_bool(values)
            note(column, typed[column].isna() & values.notna(), "not true/false")
        elif column in spec.dates:
            typed[column] = pd.to_datetime(values, errors="coerce")
            note(column, typed[column].isna() & values.notna(), "not a date")
        else:
            text = values.astype("string").str.strip()
            typed[column] = text.mask(text == "")
    reasons = _join_reasons(problems, raw.index)
    return typed, reasons


def _join_reasons(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    reasons = pd.Series("", index=index, dtype="object")
    for part in parts:
        hit = part.index
        reasons.loc[hit] = np.where(reasons.loc[hit] == "", part, reasons.loc[hit] + "; " + part)
    return reasons


def build_schema(spec: LeadTableSpec) -> pa.DataFrameSchema:
    """The pandera schema of a typed lead table."""
    columns: dict[str, pa.Column] = {}
    for column in spec.columns:
        checks = []
        if column in spec.non_negative:
            checks.append(pa.Check.ge(NON_NEGATIVE_MIN))
        if column in spec.allowed_values:
            allowed = list(spec.allowed_values[column])
            checks.append(pa.Check.isin(allowed))
        columns[column] = pa.Column(
            nullable=column not in spec.required,
            checks=checks,
            unique=column == spec.id_column,
            report_duplicates="exclude_first",
            required=True,
        )
    frame_checks = []
    if spec.won_column:
        won, created = spec.won_column, spec.created_column
        frame_checks.append(
            pa.Check(
                lambda df: df[won].isna() | (df[won] >= df[created]),
                name=f"{won} must not be before {created}",
            )
        )
    return pa.DataFrameSchema(columns, checks=frame_checks, coerce=False)


def _label(check: str) -> str:
    """A plain-words label for a pandera check name."""
    if check == "field_uniqueness":
        return "duplicate id"
    if check == "not_nullable":
        return "is missing"
    if check.startswith("greater_than_or_equal_to("):
        return f"must be >= {check[len('greater_than_or_equal_to(') : -1]}"
    if check.startswith("isin("):
        return "not an allowed value"
    return check


def schema_reasons(typed: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.Series:
    """Run the schema lazily and turn each row-level failure into a readable reason."""
    reasons = pd.Series("", index=typed.index, dtype="object")
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
        table_level = cases[cases["index"].isna()]
        if not table_level.empty:
            first = table_level.iloc[0]
            raise LeadTableError(
                f"lead table failed check {first['check']!r} on column {first['column']!r}: "
                f"{first['failure_case']}"
            ) from None
        cases = cases.drop_duplicates(subset=["index", "check", "schema_context"])
        parts = []
        for (context, column, check), group in cases.groupby(
            ["schema_context", "column", "check"], dropna=False
        ):
            shown = group["failure_case"].astype(object).map(lambda v: str(v)[:40])
            if context == "DataFrameSchema":
                message = str(check) + " ('" + shown + "')"
            else:
                message = f"{column}: {_label(str(check))}" + " ('" + shown + "')"
            parts.append(pd.Series(message.to_numpy(), index=group["index"].astype(int)))
        reasons = _join_reasons(parts, typed.index)
    return reasons


def open_without_created(typed: pd.DataFrame, spec: LeadTableSpec) -> pd.Series:
    """Open leads (outcome status open) that have no creation date: kept and counted as open."""
    created = spec.created_column
    if created is None or fields.OUTCOME_STATUS not in typed or created not in typed:
        return pd.Series(False, index=typed.index)
    is_open = (typed[fields.OUTCOME_STATUS] == outcome.OPEN).fillna(False).astype(bool)
    return is_open & typed[created].isna()


def _missing_reason(column: str, missing: pd.Series) -> pd.Series:
    """The 'is missing' reason of a required column, worded as the schema words it."""
    return pd.Series(f"{column}: {_label('not_nullable')} ('NaT')", index=missing[missing].index)


def ingest(raw: pd.DataFrame, spec: LeadTableSpec | None = None) -> IngestResult:
    """Type and validate a raw lead table; split it into valid rows and quarantined rows."""
    spec = spec or LeadTableSpec()
    raw = raw.reset_index(drop=True)
    typed, cast_reasons = coerce_types(raw, spec)
    undated_open = open_without_created(typed, spec)
    created = spec.created_column
    if created is not None and undated_open.any():
        # an open lead needs no creation date (it never trains nor judges): counted as open
        relaxed = replace(spec, required=tuple(c for c in spec.required if c != created))
        rule_reasons = schema_reasons(typed, build_schema(relaxed))
        missing = typed[created].isna() & raw[created].isna() & ~undated_open
        rule_reasons = _join_reasons(
            [rule_reasons[rule_reasons != ""], _missing_reason(created, missing)], raw.index
        )
    else:
        rule_reasons = schema_reasons(typed, build_schema(spec))
    parts = [cast_reasons[cast_reasons != ""], rule_reasons[rule_reasons != ""]]
    reasons = _join_reasons(parts, raw.index)
    bad = reasons != ""
    quarantine = raw.loc[bad].copy()
    quarantine[REASON_COLUMN] = reasons[bad]
    valid = typed.loc[~bad].reset_index(drop=True)
    required_flags = [c for c in spec.boolean if c in spec.required]
    valid[required_flags] = valid[required_flags].astype(bool)
    summary = summarise(len(raw), quarantine)
    summary["open_without_created_date"] = int(undated_open.sum())
    return IngestResult(valid=valid, quarantine=quarantine, summary=summary)


def summarise(rows_in: int, quarantine: pd.DataFrame) -> dict:
    """Counts of rows in, valid and quarantined, and quarantined rows by reason kind."""
    kinds = (
        quarantine[REASON_COLUMN]
        .str.split("; ")
        .explode()
        .str.replace(r" \('.*'\)$", "", regex=True)
        if len(quarantine)
        else pd.Series(dtype=str)
    )
    return {
        "rows_in": int(rows_in),
        "rows_valid": int(rows_in - len(quarantine)),
        "rows_quarantined": int(len(quarantine)),
        "quarantined_share": round(len(quarantine) / rows_in, 6) if rows_in else 0.0,
        "reasons": {k: int(v) for k, v in kinds.value_counts().sort_index().items()},
    }


TOP_REASONS = 3  # reasons named in the quarantine-share failure


def quarantine_share_error(summary: dict, max_share: float, failed: str) -> str:
    """Why too many rows were quarantined, with the top reasons and their counts, and the fixes."""
    reasons = sorted(summary["reasons"].items(), key=lambda item: (-item[1], item[0]))
    top = "; ".join(f"{reason} ({count:,} rows)" for reason, count in reasons[:TOP_REASONS])
    more = f"; {len(reasons) - TOP_REASONS} more in {failed}" if len(reasons) > TOP_REASONS else ""
    return (
        f"{summary['quarantined_share']:.1%} of rows ({summary['rows_quarantined']:,} of "
        f"{summary['rows_in']:,}) were quarantined, above ingest.max_quarantine_share="
        f"{max_share:.1%}. Top reasons: {top}{more}. Fix: correct those values in the export, or "
        "tell leadscore how to read them (data.types, data.missing_values, a file's date_format, "
        "the outcome's value lists), or raise ingest.max_quarantine_share if these rows may be "
        f"left out; every rejected row and its reason is in {failed} (the previous outputs are "
        "left as they were)"
    )


def builtin_kinds(spec: LeadTableSpec) -> dict[str, str]:
    """The built-in table's candidate inputs by kind (role columns left out)."""
    roles = {spec.id_column, spec.created_column, fields.CONVERTED, fields.WON_AT}
    kinds = {c: "categorical" for c in spec.categorical}
    kinds |= {c: "numeric" for c in spec.numeric} | {c: "boolean" for c in spec.boolean}
    kinds |= {c: "date" for c in spec.dates}  # dates are reviewed too (never inputs)
    return {name: kind for name, kind in kinds.items() if name not in roles}


def unit_kinds(kinds: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The kinds with money / percent / number as numeric, and those columns' units."""
    units = {name: kind for name, kind in kinds.items() if kind in UNIT_KINDS}
    return {name: "numeric" if name in units else kind for name, kind in kinds.items()}, units


def export_table_spec(
    kinds: dict[str, str],
    columns,
    units: dict[str, str] | None = None,
    number_format: NumberFormat = DEFAULT_FORMAT,
) -> LeadTableSpec:
    """What ingest expects of a CRM export, from the inferred (or configured) kinds (numeric
    ones written with `units` are read by leadscore.core.units).

    With an outcome status (won / lost / open), `converted` is missing exactly for open leads,
    so it is not required; the status is.
    """
    has_created, has_won = fields.CREATED_AT in columns, fields.WON_AT in columns
    has_status = fields.OUTCOME_STATUS in columns
    dates = tuple(n for n, k in kinds.items() if k == "date")
    return LeadTableSpec(
        created_column=fields.CREATED_AT if has_created else None,
        categorical=tuple(n for n, k in kinds.items() if k == "categorical")
        + ((fields.OUTCOME_STATUS,) if has_status else ()),
        numeric=tuple(n for n, k in kinds.items() if k == "numeric"),
        boolean=(*(n for n, k in kinds.items() if k == "boolean"), fields.CONVERTED),
        dates=((fields.CREATED_AT,) if has_created else ())
        + ((fields.WON_AT,) if has_won else ())
        + dates,
        required=(fields.LEAD_ID,)
        + ((fields.OUTCOME_STATUS,) if has_status else (fields.CONVERTED,))
        + ((fields.CREATED_AT,) if has_created else ()),
        non_negative=(),
        allowed_values={fields.OUTCOME_STATUS: outcome.STATUSES} if has_status else {},
        won_column=fields.WON_AT if has_won and has_created else None,
        units=dict(units or {}),
        number_format=number_format,
    )


def decided(leads: pd.DataFrame) -> pd.DataFrame:
    """The leads whose outcome is decided (not open): the only ones that may train or judge."""
    if fields.OUTCOME_STATUS not in leads:
        return leads
    closed = leads[fields.OUTCOME_STATUS] != outcome.OPEN
    return leads.loc[closed].astype({fields.CONVERTED: bool})


def outcome_counts(leads: pd.DataFrame) -> dict[str, int]:
    """Valid leads by outcome: converted, not converted and (with a status column) open."""
    counts = {"leads": int(len(leads))}
    if fields.OUTCOME_STATUS in leads:
        status = leads[fields.OUTCOME_STATUS].value_counts()
        counts |= {name: int(status.get(name, 0)) for name in outcome.STATUSES}
    converted = leads[fields.CONVERTED]
    counts["converted"] = int((converted == True).sum())  # noqa: E712
    counts["not_converted"] = int((converted == False).sum())  # noqa: E712
    return counts


def excluded_by_configuration(params: Params, kinds: dict[str, str]) -> tuple[str, ...]:
    """Fields of the table the configuration excludes: data.exclude and the contract's
    excluded_fields (reported as such, never as the leakage guard's finding)."""
    named = (*params.data.exclude, *params.contract.excluded_fields)
    return tuple(name for name in dict.fromkeys(named) if name in kinds)


def input_fields(valid: pd.DataFrame, kept: dict[str, str], builtin: bool) -> dict:
    """The feature spec the train stage reads (kinds kept by the guard, table order)."""
    numeric = [n for n, k in kept.items() if k == "numeric"]
    if builtin:
        non_negative = [n for n in numeric if n in fields.NUMERIC_FEATURES]
    else:  # never negative in the export: a negative value later is out of range
        non_negative = [n for n in numeric if not below_minimum(valid[n].dropna()).any()]
    return {
        "categorical": [n for n, k in kept.items() if k == "categorical"],
        "numeric": numeric,
        "boolean": [n for n, k in kept.items() if k == "boolean"],
        "non_negative": non_negative,
    }
