"""End to end: `dvc repro` on a tiny generated data set, real MLflow store, real DVC.

The tiny project runs `<venv>/bin/dvc` with the venv not on PATH, as the README's commands do.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import DVC, PROJECT_ROOT, project_env, run
from mlflow import MlflowClient
from parity import assert_scored_as_evaluated, raw_test_rows

pytestmark = pytest.mark.e2e


def test_repro_writes_every_output(tiny_project):
    for path in (
        "data/raw/leads.parquet",
        "data/interim/quarantine.csv",
        "data/processed/test.parquet",
        "models/model.joblib",
        "models/manifest.json",
        "models/manifest.sig",
        "models/training_run.json",
        "models/model_card.json",
        "reports/metrics.json",
        "reports/plots/roc.csv",
        "reports/plots/calibration.csv",
        "dvc.lock",
    ):
        assert (tiny_project / path).is_file(), path
    metrics = json.loads((tiny_project / "reports/metrics.json").read_text())
    for key in ("roc_auc", "oracle_roc_auc", "baseline_roc_auc"):
        assert 0.5 < metrics[key] <= 1, key
    assert 0 < metrics["pr_auc"] < 1 and 0 < metrics["log_loss"] < 0.69, metrics  # beats a coin
    assert 0 < metrics["brier"] < 0.25 and 0 <= metrics["ece"] < 0.1 and metrics["top_lift"] > 1
    test = pd.read_parquet(tiny_project / "data/processed/test.parquet")
    assert metrics["leads"] == len(test)
    channels = metrics["per_channel"]  # every test lead, in its channel's row
    assert set(channels) == set(test["channel"].astype(str))
    for channel, row in channels.items():
        assert row["leads"] == int((test["channel"].astype(str) == channel).sum()), channel
        assert 0 < row["base_rate"] < 1 and 0 <= row["roc_auc"] <= 1, channel


def test_raw_test_rows_score_as_evaluated_through_batch_and_api(
    tiny_project, start_server, tmp_path
):
    """The one input normalisation: the generator's raw rows of the test period, scored by
    the batch CLI and a real server, get evaluation's probability; none is rejected."""
    rows = raw_test_rows(
        pd.read_parquet(tiny_project / "data/raw/leads.parquet"), "lead_id", tiny_project
    )
    assert_scored_as_evaluated(tiny_project, rows, tmp_path / "rows.parquet", start_server)


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
    assert b"train.search.boosting.b1.learning_rate" in failed.stdout + failed.stderr
    assert load_bundle(tiny_project / "models").version == version


def test_a_fresh_clone_reproduces_the_committed_run_and_checkout_deletes_nothing(
    tiny_project, tmp_path
):
    """What one run or one machine decides (when, how fast, the MLflow run; the seal signed
    with this machine's key) is no DVC output. A fresh clone of a commit that holds the run:
    `leadscore repro` (`make run`) runs every stage, says nothing of skipping or of `dvc push`
    (no remote), and leaves git clean; `git checkout -- . && dvc checkout` deletes no bundle
    file; a re-train of the same recipe leaves git clean and seals the new run's record."""
    from leadscore.model.bundle import load_bundle

    project = tmp_path / "project"
    shutil.copytree(tiny_project, project, symlinks=True)
    shutil.copy(PROJECT_ROOT / ".gitignore", project / ".gitignore")  # as a clone has it
    run(["git", "add", "-A"], project, project_env(project))
    run(["git", "commit", "-qm", "the run"], project, project_env(project))
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path, project_env(project))
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    env = project_env(clone)
    made = run([str(clone / "bin" / "leadscore"), "repro"], clone, env)
    said = made.stdout + made.stderr
    assert "first run here" in said and "Running stage 'funnel'" in said, said
    assert "didn't change" not in said and "dvc push" not in said, said
    assert run(["git", "status", "--porcelain"], clone, env).stdout == ""
    models = clone / "models"
    files = sorted(path.name for path in models.iterdir())
    assert {"manifest.json", "manifest.sig", "training_run.json"} <= set(files)
    run(["git", "checkout", "--", "."], clone, env)
    checkout = run([DVC, "checkout"], clone, env)
    assert sorted(path.name for path in models.iterdir()) == files, checkout.stdout
    version = load_bundle(models).version

    before = json.loads((models / "training_run.json").read_text())
    run([DVC, "repro", "--force", "--single-item", "train"], clone, env)  # same recipe, new run
    after = json.loads((models / "training_run.json").read_text())
    assert after["card"]["mlflow"]["run_id"] != before["card"]["mlflow"]["run_id"]
    assert run(["git", "status", "--porcelain"], clone, env).stdout == ""
    bundle = load_bundle(models)  # re-sealed: the files it covers are the same, the run is new
    assert bundle.version == version and bundle.card.mlflow is not None
    assert bundle.card.mlflow.run_id == after["card"]["mlflow"]["run_id"]


def test_dvc_metrics_are_the_headline_and_sane(tiny_project):
    """`dvc metrics show` reads only the headline (as written, fitting 120 columns); the stage
    reports behind it make sense."""
    env = project_env(tiny_project)
    shown = json.loads(run([DVC, "metrics", "show", "--json"], tiny_project, env).stdout)
    (workspace,) = shown.values()
    files = workspace["data"]
    assert list(files) == ["reports/headline.json"]
    headline = json.loads((tiny_project / "reports/headline.json").read_text())
    assert files["reports/headline.json"]["data"] == headline and len(headline) <= 25
    metrics = json.loads((tiny_project / "reports/metrics.json").read_text())
    assert headline["auc"] == round(metrics["roc_auc"], 4) and headline["pub"] in (0, 1)
    table = run([DVC, "metrics", "show"], tiny_project, env).stdout.splitlines()
    assert len(table) == 2 and max(map(len, table)) <= 120, table
    assert 0.6 < metrics["roc_auc_ci_low"] < metrics["roc_auc"] < metrics["roc_auc_ci_high"] <= 1
    assert 0.5 < metrics["baseline_roc_auc"] < 1 and 0 < metrics["pr_auc"] < 1
    assert metrics["roc_auc"] <= metrics["oracle_roc_auc"] + 0.02  # the truth is the ceiling
    assert 0 < metrics["base_rate"] < metrics["top_conversion_share"] < 1
    assert metrics["top_lift"] > 1.5 and 0 < metrics["log_loss"] < 0.69  # beats a coin
    assert 0 < metrics["brier"] < 0.25 and 0 <= metrics["ece"] < 0.1
    card = json.loads((tiny_project / "models/model_card.json").read_text())
    assert metrics["model_version"] == card["model_version"]
    split = json.loads((tiny_project / "reports/split.json").read_text())
    assert metrics["leads"] == split["rows_test"] and split["rows_censored"] > 0
    assert abs(metrics["base_rate"] - split["base_rate_test"]) < 1e-6
    plots = run([DVC, "plots", "show", "--json"], tiny_project, env).stdout
    assert "reports/plots/roc.png" in plots and "reports/figures/importance.png" in plots


def test_mlflow_holds_the_run_and_model_version(tiny_project):
    from leadscore.model.bundle import read_card

    card = read_card(tiny_project / "models/model_card.json").to_record()  # with its run
    mlflow.set_tracking_uri(card["mlflow"]["tracking_uri"])
    client = MlflowClient()
    run_data = client.get_run(card["mlflow"]["run_id"]).data
    assert run_data.params["train.choice.prefer"] == "boosting"  # the tiny project's rule
    assert run_data.tags["model_family"] == card["model_family"]
    (child,) = client.search_runs(  # the one candidate of the tiny search, as a child run
        [card["mlflow"]["experiment_id"]],
        f"tags.mlflow.parentRunId = '{card['mlflow']['run_id']}'",
    )
    (candidate,) = card["model_choice"]["candidates"]
    assert child.data.tags["candidate.chosen"] == "true"
    assert child.data.metrics["valid_roc_auc"] == pytest.approx(candidate["valid_roc_auc"])
    assert 0.6 < candidate["valid_roc_auc"] <= 1
    # the training run holds the card's validation figures and every number evaluate wrote
    assert run_data.metrics["valid_roc_auc"] == pytest.approx(card["metrics"]["valid_roc_auc"])
    written = json.loads((tiny_project / "reports/metrics.json").read_text())
    numbers = {k: float(v) for k, v in written.items() if isinstance(v, int | float)}
    assert numbers and {k: run_data.metrics[f"test.{k}"] for k in numbers} == pytest.approx(numbers)
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
    from leadscore.core.params_file import read_raw_params

    env = project_env(tiny_project)
    contract_before = (tiny_project / "contract.yaml").read_bytes()
    before = read_raw_params(tiny_project / "params.yaml")
    text_before = (tiny_project / "params.yaml").read_text()
    run([DVC, "exp", "run", "-S", "train.choice.margin=0.012"], tiny_project, env)
    changed = [
        (old, new)
        for old, new in zip(
            text_before.splitlines(),
            (tiny_project / "params.yaml").read_text().splitlines(),
            strict=True,
        )
        if old != new
    ]
    assert [new.split("#")[0].strip() for _, new in changed] == ["margin: 0.012"]
    shown = json.loads(run([DVC, "exp", "show", "--json"], tiny_project, env).stdout)
    (row,) = experiment_rows(shown)
    assert row["params"]["params.yaml"]["data"]["train"]["choice"]["margin"] == 0.012
    (metrics_file,) = row["metrics"]  # the headline only
    metrics = row["metrics"][metrics_file]["data"]
    workspace = json.loads((tiny_project / "reports/headline.json").read_text())
    assert metrics == workspace  # the experiment's own figures
    assert 0.6 < metrics["auc"] <= 1
    baseline = next(commit["data"] for commit in shown if commit.get("experiments"))
    margin = baseline["params"]["params.yaml"]["data"]["train"]["choice"]["margin"]
    assert margin == before["train"]["choice"]["margin"] != 0.012
    assert (tiny_project / "contract.yaml").read_bytes() == contract_before
    after = read_raw_params(tiny_project / "params.yaml")
    choice = {**before["train"]["choice"], "margin": 0.012}
    assert after["train"] == {**before["train"], "choice": choice}
    assert after["data"] == before["data"]
    assert after["data"]["outcome"]["positive_values"] == [1, True, "1", "yes", "true"]
    assert {k: v for k, v in after.items() if k != "train"} == {
        k: v for k, v in before.items() if k != "train"
    }


def test_the_documented_experiment_and_its_comparison(tiny_project, tmp_path):
    """On a copy whose commit holds the run (as main does), docs/pipeline.md's experiment
    changes one line of params.yaml, and its comparison shows the changed param and headline
    figures, without a column per dependency hash."""
    project = tmp_path / "project"
    shutil.copytree(tiny_project, project, symlinks=True)
    env = project_env(project)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-qm", "the run"], project, env)
    before = (project / "params.yaml").read_text()
    experiment = ["-S", "train.search.boosting.b1.learning_rate=0.06", "-n", "lr06"]
    run([DVC, "exp", "run", *experiment], project, env)
    lines = changed_lines(before, (project / "params.yaml").read_text())
    assert [line.strip() for line in lines] == ["-learning_rate: 0.05", "+learning_rate: 0.06"]
    compare = [DVC, "exp", "show", "--only-changed", "--drop", ".*/|Created", "--no-pager"]
    shown = run(compare, project, {**env, "COLUMNS": "120"}).stdout  # a 120-column terminal
    header = next(line for line in shown.splitlines() if "Experiment" in line)
    assert "auc" in header and "learning_rate" in header and "0.06" in shown, shown
    assert "[lr06]" in shown and "…" not in shown, shown  # DVC hides what does not fit with …
    assert not re.search(r"\b[0-9a-f]{32}\b", shown), shown  # no dependency hashes
    print(f"dvc exp show --only-changed width: {max(map(len, shown.splitlines()))} columns")


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a rewrite removed and added, in order (without their indentation)."""
    import difflib

    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [
        line[0] + line[1:].strip()
        for line in diff
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
