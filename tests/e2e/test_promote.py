"""`leadscore promote` judges a registered version with the one publish gate, as the contract
stage did: on an export without creation dates too, and with a plain error instead of a
traceback when there is nothing to promote."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from stages import run_stages
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.core.config import load_params
from leadscore.core.contract_report import ContractReport
from leadscore.core.io import read_table
from leadscore.mlops.registry import judge

DROPPED = ("created_at", "won_at", "deal_value", "sales_status")
STAGES = ("prepare", "ingest", "split", "train", "grade", "evaluate", "contract")


@pytest.fixture(scope="module")
def undated_project(tmp_path_factory, default_params_raw, tiny_crm):
    """The generated leads as a CSV export without creation dates, run through the stages up to
    the contract report (which logs the gate to the training run)."""
    root = tmp_path_factory.mktemp("undated-promote")
    leads = tiny_crm.leads.drop(columns=list(DROPPED)).sample(5000, random_state=0)
    leads.to_csv(root / "export.csv", index=False)
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["train"]["max_iter"] = 30
    raw["contract"]["publish_gate"].update(min_positives=30, min_negatives=30)
    raw["data"].update(
        source="files",
        files=[{"path": "export.csv"}],
        created_column=None,
        export_months=24,
        outcome={"column": "converted", "won_date_column": None},
    )
    raw["contract"]["excluded_fields"] = []
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        run_stages(root, patch, STAGES)
    return root


def test_promote_on_an_undated_export_judges_as_the_contract_stage(undated_project, monkeypatch):
    monkeypatch.chdir(undated_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{undated_project / 'mlflow.db'}")
    params = load_params("params.yaml")
    test = read_table("data/processed/test.parquet")
    assert "created_at" not in test
    report = ContractReport.read(undated_project / "reports" / "contract.json")
    share = params.split.test_share
    assert report.test_period.start is None
    assert report.test_period.months == pytest.approx(24 * share, abs=0.005)

    name = params.mlflow.registered_model
    version = MlflowClient().get_model_version_by_alias(name, "challenger").version
    judged = judge(f"models:/{name}/{version}", test, params)["gate"]
    # the same gate on the same leads: every figure as the contract report has it, the AUC
    # bound the evaluate stage's worst over refits (not the served interval's lower end)
    assert judged.checks.keys() == report.publish_gate.checks.keys()
    for check_name, check in report.publish_gate.checks.items():
        assert judged.checks[check_name].actual == pytest.approx(check.actual), check_name
        assert judged.checks[check_name].passed == check.passed, check_name
    assert judged.publishable == report.publish_gate.publishable

    answer = CliRunner().invoke(app, ["promote", "--params", "params.yaml"])
    assert answer.exception is None or isinstance(answer.exception, SystemExit), answer.output
    assert f"v{version}: test AUC" in answer.output
    if report.publish_gate.publishable:
        assert answer.exit_code == 0 and f"champion is now v{version}" in answer.output
    else:
        failed = ", ".join(report.publish_gate.failed())
        assert answer.exit_code == 1
        assert f"fails the contract's publish gate ({failed})" in answer.output


def test_promote_without_a_challenger_says_so(tmp_path, monkeypatch, default_params_raw):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params_raw, sort_keys=False))
    pd.DataFrame({"converted": [0, 1]}).to_parquet(tmp_path / "test.parquet")
    answer = CliRunner().invoke(app, ["promote", "--test", "missing.parquet"])
    assert answer.exit_code == 1 and isinstance(answer.exception, SystemExit)
    assert "error: missing.parquet not found" in answer.output
    answer = CliRunner().invoke(app, ["promote", "--test", str(tmp_path / "test.parquet")])
    assert answer.exit_code == 1 and isinstance(answer.exception, SystemExit), answer.output
    name = load_params(tmp_path / "params.yaml").mlflow.registered_model
    assert f"error: {name} has no @challenger version to promote" in answer.output
