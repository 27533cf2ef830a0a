"""Reading a CRM export (one or more CSV/Parquet tables) into one raw lead table.

The `data` section of `params.yaml` says where the files are, how they join, which values mean
"missing", and which columns are the lead id, the creation date and the outcome. The result has
the pipeline's role columns (`lead_id`, `created_at`, `converted`, `won_at`, and
`outcome_status` when the export lists won / lost / open statuses) plus every other column under
its own name (the id: leadscore.data.export_ids; the roles and the outcome:
leadscore.data.export_roles); typing, validation and the leakage guard happen at ingest.

Reading also reports what it found, for `reports/validation.json`: per file the delimiter and
encoding (detected or configured) and how dates were read; per joined table the key coverage;
how the lead id was chosen; and the outcome counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.csvfile import HEADER_RULE
from leadscore.core.data_params import DataParams, SourceFile
from leadscore.core.io import DELIMITER_NAMES, DELIMITERS, TableReadError, read_table_with_format
from leadscore.core.params_file import ParamsError
from leadscore.core.schema import InputNormalisation, Lookup
from leadscore.core.units import UNIT_KINDS
from leadscore.data import behaviour
from leadscore.data.dates import normalise_dates
from leadscore.data.export_ids import with_lead_id
from leadscore.data.export_roles import assign_roles, require_column
from leadscore.data.inputs import mark_missing
from leadscore.data.joins import describe, join_coverage, left_join, normalise_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Export:
    """The raw lead table of an export, the report of how it was read, and the input
    normalisation scoring repeats (leadscore.data.inputs) with the joined tables it looks up."""

    leads: pd.DataFrame
    report: dict
    inputs: InputNormalisation = InputNormalisation()
    tables: dict[str, pd.DataFrame] | None = None


def _date_columns(frame: pd.DataFrame, data: DataParams) -> tuple[list[str], tuple[str, ...]]:
    """Columns that may hold dates (configured roles and types, date-like names), and the
    configured date roles among them."""
    from leadscore.core.fields import DATE_NAME

    dated = (data.created_column, data.outcome.won_date_column, data.first_contact_column)
    roles = tuple(c for c in dated if c and c in frame)
    typed = [c for c, kind in data.types.items() if kind == "date" and c in frame]
    named = [c for c in frame.columns if DATE_NAME.search(str(c))]
    return list(dict.fromkeys([*roles, *typed, *named])), roles


def _one_column_error(key: str, path: Path, frame: pd.DataFrame, how: str) -> ParamsError:
    header = str(frame.columns[0])
    seen = [DELIMITER_NAMES[d] + f" {d!r}" for d in DELIMITERS if d in header]
    found = f"; the header contains {', '.join(seen)}" if seen else ""
    return ParamsError(
        f"{key}: {path.name} parsed into a single column ({header[:60]!r}) when read with "
        f"{how}: the delimiter is probably wrong{found}. Set {key}.sep to the file's delimiter "
        "(and check that fields containing it are quoted)"
    )


def read_source(index: int, table: SourceFile, path: Path) -> tuple[pd.DataFrame, dict]:
    """One file of the export as text columns, as written, and what reading found."""
    key = f"data.files[{index}]"
    try:
        frame, fmt = read_table_with_format(path, sep=table.sep, encoding=table.encoding, dtype=str)
    except TableReadError as error:
        raise ParamsError(
            f"{key}: {error}. Set {key}.sep / {key}.encoding to override the detection"
        ) from None
    report: dict = {"path": table.path, "rows": int(len(frame)), "columns": len(frame.columns)}
    renamed = frame.attrs.get("renamed_headers") or {}
    if renamed:
        report["renamed_headers"] = renamed
    if fmt is not None:
        report |= fmt.to_dict()
        if len(frame.columns) == 1:
            raise _one_column_error(key, path, frame, fmt.describe())
        log.info("read %s: %d rows, %s", path.name, len(frame), fmt.describe())
    return frame, report


def headers_record(files: list[dict]) -> dict:
    """The header rule and, per file, the repeated names it renamed (for the model card)."""
    renamed = {f["path"]: f["renamed_headers"] for f in files if f.get("renamed_headers")}
    return {"rule": HEADER_RULE, "renamed": renamed}


def iso_dates(
    index: int, table: SourceFile, frame: pd.DataFrame, data: DataParams, report: dict
) -> pd.DataFrame:
    """The file's date columns as ISO text (leadscore.data.dates); how each was read goes into
    the file's report."""
    columns, roles = _date_columns(frame, data)
    key = f"data.files[{index}]"
    frame, dates = normalise_dates(frame, columns, table.date_format, table.dayfirst, key, roles)
    if dates:
        report["dates"] = dates
    return frame


def join_tables(
    leads: pd.DataFrame, tables: list[tuple], max_unmatched_share: float, leads_name: str
) -> tuple[pd.DataFrame, list[dict], list[Lookup]]:
    """The leads with every other table left-joined on its key, each join's coverage, and the
    lookups that repeat each join at scoring.

    `tables`: (index, SourceFile, path, frame). Fails when a join leaves more than
    `max_unmatched_share` of the lead rows with a key unmatched.
    """
    coverage, lookups = [], []
    for index, table, path, frame in tables:
        key, where = table.join_on, f"files[{index}].join_on"
        require_column(leads, key, where, leads_name)
        require_column(frame, key, where, path.name)
        normalised = table.match_keys == "normalised"
        keys = normalise_key(frame[key]) if normalised else frame[key]
        if keys.dropna().duplicated().any():
            raise ParamsError(
                f"data.files[{index}].join_on: {key!r} is not unique in {path.name}; "
                "each lead must match at most one row"
            )
        report = join_coverage(leads[key], frame[key], normalised)
        report |= {"table": table.path, "key": key, "file": f"data.files[{index}]"}
        coverage.append(report)
        line = describe(report, key, path.name)
        log.info("join %s: %s", path.name, line)
        own = table.max_unmatched_share is not None
        limit = table.max_unmatched_share if own else max_unmatched_share
        if report["unmatched_share"] > limit:
            scope = f"data.files[{index}]." if own else "data."
            raise ParamsError(
                f"data.files[{index}]: {line}; above {scope}max_unmatched_share={limit:.1%} "
                f"(fix the keys, or set data.files[{index}].max_unmatched_share to accept it "
                "for this table)"
            )
        overlap = (set(frame.columns) & set(leads.columns)) - {key}
        names = {c: f"{c} ({path.stem})" if c in overlap else c for c in frame if c != key}
        lookups.append(Lookup(table.path, key, table.match_keys, names))
        leads = left_join(leads, frame.rename(columns=names), key, normalised)
    return leads, coverage, lookups


def read_tables(
    data: DataParams, base: Path
) -> tuple[pd.DataFrame, dict, list[Lookup], dict[str, pd.DataFrame]]:
    """The leads table with every other table left-joined on its key, the read report, the
    lookups that repeat the joins at scoring and the joined tables (by configured path)."""
    if not data.files:
        raise ParamsError("data.files: no files configured (data.source is 'files')")
    frames = []
    files_report = []
    for index, table in enumerate(data.files):
        path = (base / table.path).resolve()
        if not path.is_file():
            raise ParamsError(f"data.files[{index}].path: {path} not found")
        frame, report = read_source(index, table, path)
        if index == 0:  # a made id hashes the values as written, before any rewriting
            frame, id_report = with_lead_id(frame, data, path.name)
        frames.append((index, table, path, iso_dates(index, table, frame, data, report)))
        files_report.append(report)
    leads = frames[0][3]
    leads, joins, lookups = join_tables(
        leads, frames[1:], data.max_unmatched_share, frames[0][2].name
    )
    tables = {table.path: frame for _, table, _, frame in frames[1:]}
    report = {"files": files_report, "joins": joins, "id": id_report}
    return leads, report, lookups, tables


def load_export(data: DataParams, window_days: int, base: Path = Path(".")) -> Export:
    """The configured export as one raw lead table with role columns, and the read report."""
    frame, report, lookups, tables = read_tables(data, base)
    frame = mark_missing(frame, data.missing_values)
    table, outcome_report = assign_roles(frame, data, window_days, Path(data.files[0].path).name)
    id_report = report["id"]
    inputs = InputNormalisation(
        id_column=id_report["source_column"] or fields.LEAD_ID,
        made_id_columns=tuple(id_report.get("hashed_columns", ())),
        missing_values=tuple(data.missing_values),
        lookups=tuple(lookups),
        units={c: k for c, k in data.types.items() if k in UNIT_KINDS},
        number_format=data.number_format.model_dump(),
        headers=headers_record(report["files"]),
    )
    report |= {"outcome": outcome_report, "inputs": inputs.to_dict()}
    return Export(leads=table, report=report, inputs=inputs, tables=tables)


def read_events(data: DataParams, base: Path = Path(".")) -> tuple[pd.DataFrame, dict]:
    """The configured activity table (`data.events`), through the same CSV rule, date reading
    and missing-value tokens as the leads, in the normal form of leadscore.data.behaviour; and
    what reading found, per file."""
    events = data.events
    if events is None:
        raise ParamsError("data.events: no activity table configured")
    frames, reports = [], []
    for index, table in enumerate(events.files):
        key = f"data.events.files[{index}]"
        path = (base / table.path).resolve()
        if not path.is_file():
            raise ParamsError(f"{key}.path: {path} not found")
        frame, report = read_source(index, table, path)
        wanted = (events.lead_column, events.time_column, events.type_column, events.value_column)
        for column, role in zip(
            wanted, ("lead_column", "time_column", "type_column", "value_column"), strict=True
        ):
            if column is not None:
                require_column(frame, column, f"data.events.{role}", path.name)
        frame, dates = normalise_dates(
            frame, [events.time_column], table.date_format, table.dayfirst, key,
            (events.time_column,),
        )  # fmt: skip
        if dates:
            report["dates"] = dates
        frame = mark_missing(frame, data.missing_values)
        names = {
            events.lead_column: behaviour.EVENT_LEAD,
            events.time_column: behaviour.EVENT_AT,
            events.type_column: behaviour.EVENT_TYPE,
        }
        if events.value_column:
            names[events.value_column] = behaviour.EVENT_VALUE
        frames.append(frame[list(names)].rename(columns=names))
        reports.append(report)
    raw = pd.concat(frames, ignore_index=True)
    try:
        normal = behaviour.normalise_events(raw)
    except behaviour.EventsError as error:
        raise ParamsError(f"data.events: {error}") from None
    return normal, {"files": reports, "events": int(len(normal))}


def export_as_of(leads: pd.DataFrame, events: pd.DataFrame) -> pd.Timestamp:
    """When an export was taken, as far as its dates tell: its newest creation, won or event
    date."""
    dates = [pd.to_datetime(events[behaviour.EVENT_AT]).max()]
    for column in (fields.CREATED_AT, fields.WON_AT):
        if column in leads:
            dates.append(pd.to_datetime(leads[column], errors="coerce").max())
    return max(d for d in dates if pd.notna(d))
