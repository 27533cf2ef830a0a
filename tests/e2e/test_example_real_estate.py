"""The real-estate funnel export (five tables, open statuses, stage dates, per-lead cost), set up
by the example's configuration alone: open leads left out and counted, post-contact fields
caught, "no usable signal" and not publishable, channel economics from the per-lead cost, and
the raw test rows scored through the batch CLI and the API exactly as evaluated."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import PROJECT_ROOT
from parity import assert_scored_as_evaluated, card_inputs, raw_test_rows
from stages import run_stages

from leadscore.core.params_file import read_raw_params

EXAMPLE = PROJECT_ROOT / "examples" / "real-estate"
DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "real-estate-funnel"
STAGES = ("prepare", "ingest", "split", "train", "grade", "evaluate", "importance", "contract")
STAGES += ("align", "funnel", "feedback", "report")

pytestmark = pytest.mark.skipif(
    not (DATA / "Leads.csv").is_file(), reason=f"the real-estate export is not at {DATA}"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-estate")
    raw = read_raw_params(EXAMPLE / "params.yaml")  # with the example's contract.yaml
    for entry in raw["data"]["files"]:
        entry["path"] = str(DATA / entry["path"].rsplit("/", 1)[-1])
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch, STAGES)
    return root


def report(project, name: str) -> dict:
    return json.loads((project / "reports" / name).read_text())


def test_open_leads_are_left_out_and_counted(project):
    validation = report(project, "validation.json")
    assert validation["outcomes"]["open"] == 89
    assert validation["export"]["outcome"]["won_after_window"] == 0
    scored = pd.read_parquet(project / "data" / "processed" / "test_scored.parquet")
    assert scored["converted"].notna().all()  # evaluation never judges an open lead


def test_stage_dates_lost_reason_and_the_sales_table_are_caught(project):
    flagged = report(project, "validation.json")["fields"]["flagged"]
    caught = {name for name, flag in flagged.items() if flag["excluded"]}
    stages = {"Qualification_Date", "Site_Visit_Date", "Negotiation_Date", "Booking_Date"}
    assert stages | {"Lost_Reason", "Sale_ID", "Commission_AED"} <= caught
    card = json.loads((project / "models" / "model_card.json").read_text())
    inputs = {f for kind in ("categorical", "numeric", "boolean") for f in card["features"][kind]}
    assert not inputs & caught
    assert {"Marketing_Channel", "Customer_Type", "Budget_AED"} <= inputs  # joined fields


def test_no_usable_signal_and_not_publishable(project):
    metrics = report(project, "metrics.json")
    assert not metrics["signal"]["usable"]
    assert metrics["roc_auc"] < 0.6
    contract = report(project, "contract.json")
    assert contract["publish_gate"]["publishable"] is False


def test_channel_economics_from_the_per_lead_cost(project):
    funnel = report(project, "funnel.json")
    channels = funnel["channels"]
    assert {"Referral", "LinkedIn"} <= set(channels)
    assert channels["Referral"]["cost_per_lead"] < channels["LinkedIn"]["cost_per_lead"]
    assert all(c["cost_per_won_deal"] for c in channels.values() if c["won_deals"])
    html = (project / "reports" / "report.html").read_text()
    assert "per-lead cost (data.cost_column)" in html


def test_raw_test_rows_score_as_evaluated_through_batch_and_api(project, start_server, tmp_path):
    raw = pd.read_csv(DATA / "Leads.csv", dtype=str, keep_default_na=False)
    rows = raw_test_rows(raw, "Lead_ID", project)  # the leads table only: joins are looked up
    _, inputs = card_inputs(project)
    assert {lookup.key for lookup in inputs.lookups} >= {"Customer_ID", "Property_ID"}
    assert_scored_as_evaluated(project, rows, tmp_path / "raw_test_rows.csv", start_server)


def test_the_service_describes_its_logistic_model(project, start_server):
    from conftest import API_KEY

    answer = start_server(project / "models").client.get(
        "/v1/model", headers={"X-API-Key": API_KEY}
    )
    assert answer.status_code == 200, answer.text
    card = answer.json()
    assert card["model_family"] == "logistic" and card["booster_iterations"] is None
