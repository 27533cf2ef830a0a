"""DVC stage `prepare`: the raw lead table, from the built-in generator or a CRM export.

`data.source: generator` writes the generated CRM (leads, true probabilities, channel costs);
`data.source: files` reads the configured export (leadscore.data.sources) and writes empty but
valid truth and channel-cost tables, so one dvc.yaml serves both.

With activity events (`generate.events: true`, or an export's `data.events`), the lead table
holds one row per lead and snapshot, with its behaviour features counted strictly before the
moment of scoring (leadscore.data.behaviour); `data/raw/events.parquet` holds the events (empty
without any).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import Params, load_params
from leadscore.core.io import write_csv, write_json, write_parquet
from leadscore.core.schema import InputNormalisation
from leadscore.data import behaviour
from leadscore.data.generate import (
    EXPORT_REPORT,
    GENERATOR_REPORT,
    generate_crm,
    generated_snapshots,
)
from leadscore.data.inputs import INPUTS_FILE, inputs_record

log = logging.getLogger(__name__)

EVENTS_FILE = "events.parquet"


@dataclass(frozen=True)
class RawData:
    """What the stage writes to data/raw/."""

    leads: pd.DataFrame
    truth: pd.DataFrame
    channel_costs: pd.DataFrame
    report: dict
    inputs: InputNormalisation
    tables: dict[str, pd.DataFrame]
    events: pd.DataFrame | None = None


def main(params_path: Path = Path("params.yaml"), out_dir: Path = Path("data/raw")):
    params = load_params(params_path)
    if params.data.source == "files":
        raw = from_export(params, Path(params_path).resolve().parent)
    else:
        raw = from_generator(params)
    write_raw(raw, out_dir)
    if params.data.source == "generator":
        log.info(
            "prepare: generated %d %s, %.1f%% converted",
            len(raw.leads),
            "lead snapshots" if raw.events is not None else "leads",
            100 * raw.leads[fields.CONVERTED].mean(),
        )
    if raw.events is not None:
        log.info("prepare: %d activity events, one row per lead and snapshot", len(raw.events))
    return raw


def from_generator(params: Params) -> RawData:
    gen, hours = params.generate, params.contract.follow_up.business_hours
    crm = generate_crm(
        n_leads=gen.n_leads,
        months=gen.months,
        export_date=gen.export_date,
        window_days=params.contract.outcome.window_days,
        seed=gen.seed,
        business_hours=(hours.start_hour, hours.end_hour),
        events=gen.events,
    )
    raw = RawData(
        crm.leads, crm.truth, crm.channel_costs, dict(GENERATOR_REPORT), InputNormalisation(), {}
    )
    if crm.activity is None:
        return raw
    leads, truth = generated_snapshots(
        crm,
        params.data.behaviour,
        params.contract.scoring_moment,
        params.contract.outcome.window_days,
        gen.export_date,
    )
    return with_behaviour(replace(raw, leads=leads, truth=truth), params, crm.activity.events)


def from_export(params: Params, base: Path) -> RawData:
    """`data.source: files`: the configured CRM export becomes the raw lead table."""
    from leadscore.data.sources import export_as_of, load_export, read_events

    export = load_export(params.data, params.contract.outcome.window_days, base=base)
    leads = export.leads
    raw = RawData(
        leads.astype({c: "string" for c in leads.columns if leads[c].dtype == object}),
        # no generator truth and no channel costs for an export: empty tables keep the DAG whole
        pd.DataFrame({fields.LEAD_ID: [], "true_probability": []}),
        pd.DataFrame({"channel": [], "cost_per_lead": []}),
        {"source": "files", **export.report},
        export.inputs,
        export.tables or {},
    )
    log.info(
        "prepare: data.source is files: read %d leads from %s",
        len(leads),
        params.data.files[0].path,
    )
    if params.data.events is None:
        return raw
    events, report = read_events(params.data, base)
    dated = leads.assign(
        **{
            c: pd.to_datetime(leads[c], errors="coerce")
            for c in (fields.CREATED_AT, fields.WON_AT)
            if c in leads
        }
    )
    table = behaviour.snapshots(
        dated,
        events,
        params.data.behaviour,
        params.contract.scoring_moment,
        params.contract.outcome.window_days,
        export_as_of(dated, events),
    )
    raw = replace(raw, leads=table, report=raw.report | {"events": report})
    return with_behaviour(raw, params, events)


def with_behaviour(raw: RawData, params: Params, events: pd.DataFrame) -> RawData:
    """The raw data with its events, and the record of the behaviour features in the read
    report (for the leakage review) and in the input normalisation (for the model card)."""
    spec = params.data.behaviour
    created = params.data.created_column if params.data.source == "files" else None
    record = behaviour.record(
        spec,
        params.contract.scoring_moment,
        counted_before=not spec.count_after_decision,
        created_column=created or fields.CREATED_AT,
    )
    if spec.count_after_decision:
        log.warning(
            "prepare: data.behaviour.count_after_decision is set: the behaviour features count "
            "events AFTER the moment of scoring (a deliberate leak, for the leakage review)"
        )
    return replace(
        raw,
        report=raw.report | {"behaviour": record},
        inputs=replace(raw.inputs, behaviour=record),
        events=events,
    )


def write_raw(raw: RawData, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(raw.leads, out_dir / "leads.parquet", index=False)
    write_parquet(raw.truth, out_dir / "truth.parquet", index=False)
    write_csv(raw.channel_costs, out_dir / "channel_costs.csv", index=False)
    write_json(out_dir / EXPORT_REPORT, raw.report)
    write_json(out_dir / INPUTS_FILE, inputs_record(raw.inputs, raw.tables))
    events = raw.events
    if events is None:
        events = pd.DataFrame({c: [] for c in behaviour.EVENT_COLUMNS})
    write_parquet(events, out_dir / EVENTS_FILE, index=False)
