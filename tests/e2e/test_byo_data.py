"""Bring your own CRM export: typing, the leakage guard, minimum data, no signal, joins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import PROJECT_ROOT
from parity import assert_scored_as_evaluated, raw_test_rows
from stages import files_params, run_stages

from leadscore.core import fields
from leadscore.core.config import parse_params
from leadscore.core.data_params import LeakageParams
from leadscore.core.params_file import ParamsError, read_raw_params
from leadscore.data.field_kinds import infer_kind
from leadscore.data.leakage import flagged, inputs_of, review_fields

XED_LEADS = PROJECT_ROOT.parent / "shared" / "datasets" / "x-education" / "Leads.csv"
ID = "Prospect ID"  # found by leadscore: the export's unique, id-like column


def test_columns_are_typed_from_their_values():
    assert infer_kind(pd.Series(["Yes", "No", None, "yes"]), "Do Not Email") == "boolean"
    assert infer_kind(pd.Series(["3", "4.5", None]), "TotalVisits") == "numeric"
    assert infer_kind(pd.Series(["India", "Kuwait"]), "Country") == "categorical"
    assert infer_kind(pd.Series(["2026-01-02", "2026-02-03"]), "signup_date") == "date"
    # dated values are dates whatever the column is called (data.types can say otherwise)
    assert infer_kind(pd.Series(["2026-01-02 09:30", None]), "first reply") == "date"
    assert infer_kind(pd.Series(["02/01/2026", "03/02/2026"]), "batch") == "date"
    assert infer_kind(pd.Series(["1-10", "11-50", "2026"]), "size") == "categorical"


def test_an_id_column_and_a_copy_of_the_outcome_are_excluded():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            fields.CONVERTED: y,
            "crm_ref": [f"C{i:06d}" for i in range(n)],  # unique per lead, no id-like name
            "enrolled": np.where(y, "Y", "N"),  # the outcome under another name
            "visits": rng.poisson(3 + 2 * y).astype(float),
            "country": rng.choice(["IN", "US", "DE"], n),
        }
    )
    kinds = {"crm_ref": "categorical", "enrolled": "categorical", "visits": "numeric",
             "country": "categorical"}  # fmt: skip
    review = review_fields(frame, kinds, LeakageParams(max_single_field_auc=0.85, folds=5))
    kept, report = inputs_of(review), flagged(review)
    assert set(kept) == {"visits", "country"}
    assert report["crm_ref"]["excluded"] and "identifier" in report["crm_ref"]["flags"][0]
    assert report["enrolled"]["excluded"] and report["enrolled"]["single_field_auc"] == 1.0
    assert "predicts the outcome alone" in report["enrolled"]["flags"][-1]


def test_the_contract_can_allow_a_flagged_field():
    frame = pd.DataFrame({fields.CONVERTED: [0, 1] * 50, "lead_status": ["a", "b"] * 50})
    review = review_fields(
        frame,
        {"lead_status": "categorical"},
        LeakageParams(max_single_field_auc=0.99, folds=5),
        allowed={"lead_status": ""},
    )
    kept, report = inputs_of(review), flagged(review)
    assert kept == {"lead_status": "categorical"}
    assert report["lead_status"]["allowed_by_contract"] and not report["lead_status"]["excluded"]


def test_ten_positives_are_refused_with_the_numbers_required(tiny_split, tiny_params):
    from leadscore.model.train import NotEnoughData, train_models

    train = tiny_split.train.copy()
    positives = np.flatnonzero(train[fields.CONVERTED].to_numpy())
    train.loc[positives[10:], fields.CONVERTED] = False
    valid = tiny_split.valid.assign(**{fields.CONVERTED: False})
    with pytest.raises(NotEnoughData) as error:
        train_models(train, valid, tiny_params)
    message = str(error.value)
    assert "10 converted" in message and "at least 100 converted" in message
    assert "contract.publish_gate.min_positives" in message


def test_shuffled_outcomes_have_no_usable_signal_and_are_not_publishable(tiny_crm, tiny_params):
    from leadscore.analysis.evaluate import quality_metrics, signal_verdict
    from leadscore.data.ingest import ingest
    from leadscore.data.split import resolve_as_of, time_split
    from leadscore.model.thresholds import derive_grading, grading_record
    from leadscore.model.train import train_models
    from leadscore.scoring.scorer import score_leads
    from leadscore.views.contract import contract_report

    leads = ingest(tiny_crm.leads).valid
    rng = np.random.default_rng(1)
    leads[fields.CONVERTED] = rng.permutation(leads[fields.CONVERTED].to_numpy())
    split = time_split(
        leads, resolve_as_of(leads, None), tiny_params.contract.outcome.window_days, 3, 3
    )
    pipeline, _, card = train_models(split.train, split.valid, tiny_params)
    spec_fields = list(card.spec.fields)
    valid_p = pipeline.predict_proba(split.valid[spec_fields])[:, 1]
    grading, derivation = derive_grading(
        valid_p, len(split.valid) / 3, tiny_params.contract.grades, split.valid["converted"]
    )
    record = grading_record(grading, derivation, tiny_params.contract, card.model_version)
    from leadscore.model.bundle import ModelBundle

    bundle = ModelBundle(pipeline, card, record, Path("."))
    scored = split.test.merge(score_leads(bundle, split.test), on=fields.LEAD_ID)
    metrics = quality_metrics(
        scored[fields.CONVERTED].to_numpy(int), scored["probability"].to_numpy(), 10, 0.1
    )
    metrics["signal"] = signal_verdict(
        metrics, tiny_params.contract.publish_gate.min_auc_lower_bound
    )
    assert not metrics["signal"]["usable"] and "min_auc_lower_bound" in metrics["signal"]["reason"]
    report = contract_report(scored, tiny_params.contract, record, metrics).to_json()
    assert not report["publish_gate"]["publishable"]
    assert not report["publish_gate"]["checks"]["auc_lower_bound"]["passed"]


# --- files end to end ---------------------------------------------------------------------


@pytest.fixture()
def multi_table(tmp_path) -> Path:
    """leads.csv (with an account key and a won date) + accounts.csv, 14 months of leads."""
    rng = np.random.default_rng(5)
    n, accounts = 4000, 300
    employees = rng.lognormal(4, 1.2, accounts).round()
    account = rng.integers(0, accounts, n)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 420, n), unit="D")
    visits = rng.poisson(3, n)
    logit = -2.5 + 0.5 * np.log1p(employees[account]) - 0.8 + 0.35 * visits
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    won_at = np.where(
        won, (created + pd.to_timedelta(rng.integers(5, 60, n), unit="D")).astype(str), ""
    )
    pd.DataFrame(
        {
            "Lead Key": [f"K{i:05d}" for i in range(n)],
            "account_id": [f"A{a:04d}" for a in account],
            "Created": created.astype(str),
            "Won Date": won_at,
            "Visits": visits,
            "Source": rng.choice(["web", "event", "partner", "Select"], n),
        }
    ).to_csv(tmp_path / "leads.csv", index=False)
    pd.DataFrame(
        {
            "account_id": [f"A{a:04d}" for a in range(accounts)],
            "Employees": employees,
            "Industry": rng.choice(["retail", "software", "energy"], accounts),
        }
    ).to_csv(tmp_path / "accounts.csv", index=False)
    return tmp_path


def multi_table_data() -> dict:
    return {
        "source": "files",
        "files": [{"path": "leads.csv"}, {"path": "accounts.csv", "join_on": "account_id"}],
        "missing_values": ["Select"],
        "id_column": "Lead Key",
        "created_column": "Created",
        "outcome": {"column": None, "won_date_column": "Won Date"},
    }


def test_a_multi_table_export_trains_end_to_end(multi_table, default_params_raw, monkeypatch):
    raw = files_params(default_params_raw, multi_table_data())
    (multi_table / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    run_stages(multi_table, monkeypatch)
    card = json.loads((multi_table / "models" / "model_card.json").read_text())
    inputs = card["features"]["categorical"] + card["features"]["numeric"]
    assert {"Employees", "Industry", "Visits", "Source"} <= set(inputs)
    assert "account_id" not in inputs and "Lead Key" not in inputs
    metrics = json.loads((multi_table / "reports" / "metrics.json").read_text())
    assert metrics["signal"]["usable"] and metrics["roc_auc"] > 0.6
    validation = json.loads((multi_table / "reports" / "validation.json").read_text())
    assert validation["fields"]["flagged"]["Lead Key"]["excluded"]


def test_a_wrong_column_name_fails_early_naming_the_key(
    multi_table, default_params_raw, monkeypatch
):
    raw = files_params(default_params_raw, {**multi_table_data(), "id_column": "Lead key"})
    (multi_table / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(
        ParamsError, match=r"data.id_column: 'Lead key' is not a column .*'Lead Key'"
    ):
        run_stages(multi_table, monkeypatch, stages=("prepare",))


def test_a_malformed_data_section_names_the_key(default_params_raw):
    raw = files_params(default_params_raw, {"source": "files", "files": []})
    with pytest.raises(ParamsError, match="data"):
        parse_params(raw)


@pytest.mark.skipif(not XED_LEADS.is_file(), reason=f"the X Education export is not at {XED_LEADS}")
def test_x_education_with_only_the_example_config(tmp_path, monkeypatch, start_server):
    example = PROJECT_ROOT / "examples" / "x-education"
    raw = read_raw_params(example / "params.yaml")  # with the example's contract.yaml
    raw["data"]["files"][0]["path"] = str(XED_LEADS)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    run_stages(tmp_path, monkeypatch)
    flagged = json.loads((tmp_path / "reports" / "validation.json").read_text())["fields"][
        "flagged"
    ]
    for name in ("Tags", "Lead Quality", "Prospect ID", "Lead Number"):
        assert flagged[name]["excluded"], name
    assert flagged["Do Not Call"]["verdict"] == "needs review"  # its name, not excluded
    assert flagged["Do Not Call"]["allowed_by_contract"]
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["roc_auc"] >= 0.86  # 0.868: every sales-side field excluded
    card = json.loads((tmp_path / "models" / "model_card.json").read_text())
    inputs = {f for kind in ("categorical", "numeric", "boolean") for f in card["features"][kind]}
    assert not inputs & {"Tags", "Lead Quality", "Prospect ID", "Lead Number", "Last Activity"}
    # the raw test rows, as the export writes them ("Select" and all), score as evaluated
    rows = raw_test_rows(pd.read_csv(XED_LEADS, dtype=str, keep_default_na=False), ID, tmp_path)
    assert_scored_as_evaluated(tmp_path, rows, tmp_path / "raw_test_rows.csv", start_server)
    shutil.rmtree(tmp_path / "data")
