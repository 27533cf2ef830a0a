"""End to end: `dvc repro` on a tiny generated data set, real MLflow store, real DVC."""

from __future__ import annotations

import json

import mlflow
import pytest
from conftest import project_env, run
from mlflow import MlflowClient

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


def test_second_repro_is_up_to_date(tiny_project):
    result = run(["dvc", "repro"], tiny_project, project_env(tiny_project))
    assert "didn't change, skipping" in result.stdout or "up to date" in result.stdout
    for stage in ("generate", "ingest", "split", "train", "evaluate"):
        assert f"Running stage '{stage}'" not in result.stdout


def test_dvc_metrics_and_plots(tiny_project):
    env = project_env(tiny_project)
    shown = run(["dvc", "metrics", "show", "--json"], tiny_project, env).stdout
    assert "roc_auc" in shown and "rows_censored" in shown
    plots = run(["dvc", "plots", "show", "--json"], tiny_project, env).stdout
    assert "reports/plots/roc.csv" in plots


def test_mlflow_holds_the_run_and_model_version(tiny_project):
    card = json.loads((tiny_project / "models/model_card.json").read_text())
    mlflow.set_tracking_uri(card["mlflow"]["tracking_uri"])
    client = MlflowClient()
    run_data = client.get_run(card["mlflow"]["run_id"]).data
    assert run_data.params["train.choice.prefer"]
    assert run_data.tags["model_family"] == card["model_family"]
    (child,) = client.search_runs(  # the one candidate of the tiny search, as a child run
        [card["mlflow"]["experiment_id"]],
        f"tags.mlflow.parentRunId = '{card['mlflow']['run_id']}'",
    )
    assert child.data.tags["candidate.chosen"] == "true" and child.data.metrics["valid_roc_auc"]
    assert "test.roc_auc" in run_data.metrics and "valid_roc_auc" in run_data.metrics
    artifacts = {a.path for a in client.list_artifacts(card["mlflow"]["run_id"], "evaluation")}
    assert "evaluation/roc.csv" in artifacts
    version = client.get_model_version(
        card["mlflow"]["registered_model"], card["mlflow"]["registered_version"]
    )
    assert version.run_id == card["mlflow"]["run_id"]


def test_exp_run_with_a_train_param(tiny_project):
    env = project_env(tiny_project)
    run(["dvc", "exp", "run", "-S", "train.choice.margin=0.012"], tiny_project, env)
    shown = run(["dvc", "exp", "show", "--json"], tiny_project, env).stdout
    assert "0.012" in shown and "roc_auc" in shown
