"""End to end: `dvc repro` on a tiny generated data set, real MLflow store, real DVC.

The tiny project runs `<venv>/bin/dvc` with the venv not on PATH, as the README's commands do.
"""

from __future__ import annotations

import json
import subprocess

import mlflow
import pandas as pd
import pytest
from conftest import API_KEY, DVC, project_env, run
from mlflow import MlflowClient
from parity import api_parity, batch_parity, card_inputs, evaluated, raw_test_rows

pytestmark = pytest.mark.e2e


def test_repro_writes_every_output(tiny_project):
    for path in (
        "data/raw/leads.parquet",
        "data/interim/quarantine.csv",
        "data/processed/test.parquet",
        "models/model.joblib",
        "models/manifest.json",
        "models/model_card.json",
        "reports/metrics.json",
        "reports/plots/roc.csv",
        "reports/plots/calibration.csv",
        "dvc.lock",
    ):
        assert (tiny_project / path).is_file(), path
    metrics = json.loads((tiny_project / "reports/metrics.json").read_text())
    for key in (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "top_lift",
        "oracle_roc_auc",
        "baseline_roc_auc",
        "per_channel",
    ):
        assert key in metrics
    assert 0.5 < metrics["roc_auc"] <= 1


def test_raw_test_rows_score_as_evaluated_through_batch_and_api(
    tiny_project, start_server, tmp_path
):
    """The one input normalisation: the generator's raw rows of the test period, scored by
    the batch CLI and a real server, get evaluation's probability; none is rejected."""
    rows = raw_test_rows(
        pd.read_parquet(tiny_project / "data/raw/leads.parquet"), "lead_id", tiny_project
    )
    rows_file = tmp_path / "raw_test_rows.parquet"
    rows.to_parquet(rows_file, index=False)
    expected = len(evaluated(tiny_project))
    batch = batch_parity(tiny_project, rows_file, len(rows))
    assert batch.rejected == 0 and batch.compared == expected, batch
    assert batch.max_abs_difference <= 1e-12, batch
    card, _ = card_inputs(tiny_project)
    api = api_parity(start_server(tiny_project / "models"), tiny_project, rows, card, API_KEY)
    assert api.rejected == 0 and api.compared == expected, api
    assert api.max_abs_difference <= 1e-12, api


def test_second_repro_is_up_to_date(tiny_project):
    result = run([DVC, "repro"], tiny_project, project_env(tiny_project))
    assert "didn't change, skipping" in result.stdout or "up to date" in result.stdout
    for stage in ("prepare", "ingest", "split", "train", "evaluate"):
        assert f"Running stage '{stage}'" not in result.stdout


def test_a_failed_stage_keeps_the_last_model_servable(tiny_project):
    """DVC removes a stage's outputs before running it unless they persist: a failed train
    must leave the sealed bundle the service loads (dvc.yaml: persist; atomic writes)."""
    from leadscore.model.bundle import load_bundle

    version = load_bundle(tiny_project / "models").version
    params = tiny_project / "params.yaml"
    text = params.read_text()
    assert text.count("learning_rate: 0.05") == 1
    params.write_text(text.replace("learning_rate: 0.05", "learning_rate: -1"))
    try:
        failed = subprocess.run(
            [DVC, "repro"], cwd=tiny_project, env=project_env(tiny_project), capture_output=True
        )
    finally:
        params.write_text(text)
    assert failed.returncode != 0
    assert b"train.learning_rate" in failed.stdout + failed.stderr
    assert load_bundle(tiny_project / "models").version == version


def test_dvc_metrics_are_the_reports_and_sane(tiny_project):
    """`dvc metrics show` reads the stages' reports as written, and their values make sense."""
    env = project_env(tiny_project)
    shown = json.loads(run([DVC, "metrics", "show", "--json"], tiny_project, env).stdout)
    (workspace,) = shown.values()
    files = workspace["data"]
    for name in ("reports/metrics.json", "reports/split.json"):
        assert files[name]["data"] == json.loads((tiny_project / name).read_text()), name
    metrics = files["reports/metrics.json"]["data"]
    assert 0.6 < metrics["roc_auc_ci_low"] < metrics["roc_auc"] < metrics["roc_auc_ci_high"] <= 1
    assert 0.5 < metrics["baseline_roc_auc"] < 1 and 0 < metrics["pr_auc"] < 1
    assert metrics["roc_auc"] <= metrics["oracle_roc_auc"] + 0.02  # the truth is the ceiling
    assert 0 < metrics["base_rate"] < metrics["top_conversion_share"] < 1
    assert metrics["top_lift"] > 1.5 and 0 < metrics["log_loss"] < 0.69  # beats a coin
    assert 0 < metrics["brier"] < 0.25 and 0 <= metrics["ece"] < 0.1
    card = json.loads((tiny_project / "models/model_card.json").read_text())
    assert metrics["model_version"] == card["model_version"]
    split = files["reports/split.json"]["data"]
    assert metrics["leads"] == split["rows_test"] and split["rows_censored"] > 0
    assert abs(metrics["base_rate"] - split["base_rate_test"]) < 1e-6
    plots = run([DVC, "plots", "show", "--json"], tiny_project, env).stdout
    assert "reports/plots/roc.csv" in plots


def test_mlflow_holds_the_run_and_model_version(tiny_project):
    card = json.loads((tiny_project / "models/model_card.json").read_text())
    mlflow.set_tracking_uri(card["mlflow"]["tracking_uri"])
    client = MlflowClient()
    run_data = client.get_run(card["mlflow"]["run_id"]).data
    assert run_data.params["train.learning_rate"]
    assert "test.roc_auc" in run_data.metrics and "valid_roc_auc" in run_data.metrics
    artifacts = {a.path for a in client.list_artifacts(card["mlflow"]["run_id"], "evaluation")}
    assert "evaluation/roc.csv" in artifacts
    version = client.get_model_version(
        card["mlflow"]["registered_model"], card["mlflow"]["registered_version"]
    )
    assert version.run_id == card["mlflow"]["run_id"]


def experiment_rows(shown: list[dict]) -> list[dict]:
    """The experiments' rows of `dvc exp show --json` (baseline commits hold them)."""
    return [
        rev["data"]
        for commit in shown
        for experiment in commit.get("experiments") or []
        for rev in experiment["revs"]
    ]


def test_exp_run_with_a_train_param_never_rewrites_the_contract(tiny_project):
    """`dvc exp run -S train...` rewrites params.yaml (quotes dropped): contract.yaml stays
    byte for byte, and the data config means the same read as YAML 1.2."""
    from leadscore.core.config import read_raw_params

    env = project_env(tiny_project)
    contract_before = (tiny_project / "contract.yaml").read_bytes()
    before = read_raw_params(tiny_project / "params.yaml")
    model_before = json.loads((tiny_project / "reports/metrics.json").read_text())
    run([DVC, "exp", "run", "-S", "train.learning_rate=0.12"], tiny_project, env)
    shown = json.loads(run([DVC, "exp", "show", "--json"], tiny_project, env).stdout)
    (row,) = experiment_rows(shown)
    assert row["params"]["params.yaml"]["data"]["train"]["learning_rate"] == 0.12
    metrics = row["metrics"]["reports/metrics.json"]["data"]
    assert 0.6 < metrics["roc_auc"] <= 1
    assert metrics["model_version"] != model_before["model_version"]  # another model
    baseline = next(commit["data"] for commit in shown if commit.get("experiments"))
    assert baseline["params"]["params.yaml"]["data"]["train"]["learning_rate"] == 0.05
    assert (tiny_project / "contract.yaml").read_bytes() == contract_before
    after = read_raw_params(tiny_project / "params.yaml")
    assert after["train"] == {**before["train"], "learning_rate": 0.12}
    assert after["data"] == before["data"]
    assert after["data"]["outcome"]["positive_values"] == [1, True, "1", "yes", "true"]
    assert {k: v for k, v in after.items() if k != "train"} == {
        k: v for k, v in before.items() if k != "train"
    }
