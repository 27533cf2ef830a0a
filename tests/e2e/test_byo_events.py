"""An export's activity table (`data.events`): read by the leads' CSV rule (delimiter, day-first
dates, missing-value tokens, type spelling), the snapshots built by the one definition, and the
leakage review keeping the behaviour fields by construction."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from stages import files_params, run_stages

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.data import behaviour
from leadscore.data.generate import generate_crm, generated_snapshots

pytestmark = pytest.mark.e2e
EXPORT = "2026-10-31"


@pytest.fixture(scope="module")
def crm():
    return generate_crm(3_000, 12, EXPORT, 90, seed=11, events=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory, crm, default_params_raw):
    root = tmp_path_factory.mktemp("byo-events")
    leads = crm.leads.drop(columns=[fields.CONVERTED, "sales_status"]).rename(
        columns={fields.LEAD_ID: "Lead Id", fields.CREATED_AT: "Created", fields.WON_AT: "Won"}
    )
    leads.to_csv(root / "leads.csv", index=False)
    events = crm.events.rename(
        columns={
            behaviour.EVENT_LEAD: "Lead Id",
            behaviour.EVENT_AT: "Activity Date",
            behaviour.EVENT_TYPE: "Activity Type",
            behaviour.EVENT_VALUE: "Minutes",
        }
    )
    events["Activity Date"] = events["Activity Date"].dt.strftime("%d/%m/%Y %H:%M:%S")
    events["Activity Type"] = " " + events["Activity Type"].str.upper()  # as a CRM writes it
    events["Minutes"] = events["Minutes"].astype(object)
    events.loc[events.index[:3], "Minutes"] = "n/a"
    events.to_csv(root / "activities.csv", index=False, sep=";")
    raw = files_params(
        default_params_raw,
        {
            "source": "files",
            "files": [{"path": "leads.csv"}],
            "id_column": "Lead Id",
            "created_column": "Created",
            "outcome": {"won_date_column": "Won"},
            "missing_values": ["n/a"],
            "events": {
                "files": [{"path": "activities.csv", "dayfirst": True}],
                "lead_column": "Lead Id",
                "time_column": "Activity Date",
                "type_column": "Activity Type",
                "value_column": "Minutes",
            },
        },
    )
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch, ("prepare", "ingest"))
    return root


def test_the_export_gets_the_snapshots_the_definition_builds(project, crm):
    params = load_params(project / "params.yaml")
    expected, _ = generated_snapshots(crm, params.data.behaviour, None, 90, EXPORT)
    got = pd.read_parquet(project / "data" / "raw" / "leads.parquet")
    # the export's as-of is its newest date (before the generator's export day): fewer rows
    assert 0.9 * len(expected) < len(got) <= len(expected)
    got = got.set_index(fields.LEAD_ID)
    expected = expected.set_index(fields.LEAD_ID).loc[got.index]
    for name in behaviour.feature_kinds(params.data.behaviour):
        pd.testing.assert_series_equal(got[name], expected[name], check_dtype=False)
    assert (got[fields.CONVERTED].astype(bool) == expected[fields.CONVERTED]).all()
    events = pd.read_parquet(project / "data" / "raw" / "events.parquet")
    assert len(events) == len(crm.events)
    assert set(events[behaviour.EVENT_TYPE]) <= set(params.data.behaviour.types)
    assert (
        events[behaviour.EVENT_VALUE].isna().sum() > crm.events[behaviour.EVENT_VALUE].isna().sum()
    )


def test_the_review_keeps_the_export_behaviour_fields_by_construction(project):
    review = json.loads((project / "reports" / "leakage.json").read_text())["fields"]
    inputs = json.loads((project / "data" / "interim" / "features.json").read_text())
    for name in ("engagement", "demo_request_events", "lead_age_days", "latest_event_type"):
        assert review[name]["verdict"] == "kept", review[name]
        assert "strictly before the moment of scoring" in review[name]["reasons"][0]
    assert "engagement" in inputs["numeric"] and "latest_event_type" in inputs["categorical"]
    record = json.loads((project / "data" / "raw" / "inputs.json").read_text())
    assert record["normalisation"]["behaviour"]["created_column"] == "Created"
