"""Analysts: importance, segments and lineage in a real MLflow tracking server; champion and
challenger; the model's top fields against the generator's truth."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import free_port
from mlflow import MlflowClient

from leadscore.analysis.importance import compute, importance_figure, permutation_importance
from leadscore.core.card import TrainingRun
from leadscore.core.config import parse_params
from leadscore.core.contract_report import GateResult
from leadscore.mlops import gate_record, tracking
from leadscore.mlops.registry import promote, rollback
from leadscore.model.bundle import load_bundle, save_bundle
from leadscore.model.gate import REVIEW_CHECK, review_check
from leadscore.scoring.loading import load_served_model
from leadscore.scoring.scorer import Scorer


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` with a SQLite backend on a loopback port, stopped afterwards."""
    import httpx

    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    else:
        process.kill()
        raise AssertionError((root / "server.log").read_text()[-3000:])
    yield url
    process.terminate()
    process.wait(30)
    log.close()


@pytest.fixture(scope="module")
def analyst_params(tiny_params_raw):
    """The tiny params with a lenient gate: these tests are about the promotion mechanics."""
    raw = {**tiny_params_raw, "mlflow": {"experiment": "analyst", "registered_model": "lead-test"}}
    raw["contract"] = {
        **raw["contract"],
        "publish_gate": {**raw["contract"]["publish_gate"], "min_lift_over_base_rate": 1.0,
                         "min_margin_over_best_profile": -1.0},
    }  # fmt: skip
    raw["importance"] = {**raw.get("importance", {}), "max_rows": 2000, "shap_rows": 300}
    return parse_params(raw)


def register(params, models, grading_record, directory: Path, split) -> dict:
    """Log and register a model as the train and grade stages do; returns the run facts."""
    pipeline, baseline, card = models
    card = card.model_copy(update={"model_version": f"{card.model_version}-{directory.name}"})
    grading_record = {**grading_record, "model_version": card.model_version}
    example = split.valid[list(card.spec.fields)].head(3)
    run = tracking.log_training_run(params, pipeline, card, example)
    card = card.model_copy(update={"mlflow": TrainingRun.model_validate(run)})
    save_bundle(directory, pipeline, baseline, card, grading_record)
    tracking.log_grading(run, grading_record, directory)
    return run


def test_importance_lineage_and_champion_challenger(
    monkeypatch, tmp_path, mlflow_server, analyst_params, tiny_models, tiny_grading_record,
    tiny_split,
):  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    params = analyst_params
    client = MlflowClient(tracking_uri=mlflow_server)
    name = params.mlflow.registered_model

    good = register(params, tiny_models, tiny_grading_record, tmp_path / "good", tiny_split)
    scorer = Scorer.from_bundle(load_bundle(tmp_path / "good"))
    matrix, _, _ = scorer.encode_frame(tiny_split.test)
    scored = tiny_split.test.assign(probability=scorer.score(matrix).probability)
    result = compute(scorer, scored, params.importance)
    figures = {"importance.png": importance_figure(result["table"])}
    tracking.log_importance(good, result["table"], result["segments"], figures)

    run = client.get_run(good["run_id"])
    for field in scorer.fields:
        assert f"importance.{field}" in run.data.metrics, field
        assert f"shap_mean_abs.{field}" in run.data.metrics, field
    assert "segment.channel.webinar.roc_auc" in run.data.metrics
    assert any(key.startswith("segment.company_size.") for key in run.data.metrics)
    artifacts = {f.path for f in client.list_artifacts(good["run_id"], "importance")}
    assert {"importance/importance.json", "importance/segments.json"} <= artifacts
    assert "importance/importance.png" in artifacts
    version = client.get_model_version(name, good["registered_version"])
    assert version.tags["lineage.contract_version"] == params.contract.version
    assert version.tags["lineage.training_data_sha256"] == tiny_models[2].training_data.sha256
    assert version.tags["lineage.git_commit"] and "lineage.lib.scikit-learn" in version.tags
    assert "dvc repro" in version.description
    assert client.get_model_version_by_alias(name, "challenger").version == version.version

    test = tiny_split.test
    first = promote(params, test)
    assert first["promoted"], first["reasons"]
    assert client.get_model_version_by_alias(name, "champion").version == version.version

    from leadscore.model.train import train_models

    slow = {"leaf_size": 0.3, "leaves": 0.3, "learning_rate": 0.01, "l2_regularization": 1.0}
    train = params.train.model_dump(mode="json")
    train.update(max_iter=2, search={**train["search"], "boosting": [slow]})
    worse_params = parse_params({**params.model_dump(mode="json"), "train": train})
    worse_models = train_models(tiny_split.train, tiny_split.valid, worse_params)
    worse = register(params, worse_models, tiny_grading_record, tmp_path / "worse", tiny_split)
    refused = promote(params, test)
    assert not refused["promoted"]
    assert refused["challenger_auc"] < refused["champion_auc"] - 0.005
    assert "below champion" in refused["reasons"][-1]
    assert client.get_model_version_by_alias(name, "champion").version == version.version
    tags = client.get_model_version(name, worse["registered_version"]).tags
    assert tags["promotion.promoted"] == "False" and tags["promotion.champion_auc"]

    better = register(params, tiny_models, tiny_grading_record, tmp_path / "better", tiny_split)
    # the contract stage found an input under leakage review without sign-off: not promotable
    unsigned = review_check({"fields": {"x": {"awaiting_sign_off": True}}})
    gate_record.log_publish_gate(better, GateResult.of({REVIEW_CHECK: unsigned}))
    blocked = promote(params, test)
    assert not blocked["promoted"] and "fields_under_review" in blocked["reasons"][0]
    signed = review_check({"fields": {"x": {"awaiting_sign_off": False}}})
    gate_record.log_publish_gate(better, GateResult.of({REVIEW_CHECK: signed}))
    accepted = promote(params, test)
    assert accepted["promoted"] and accepted["version"] == better["registered_version"]
    served = load_served_model(f"models:/{name}@champion")
    assert served.registry["version"] == better["registered_version"]

    back = rollback(params)
    assert back == {**back, "champion": version.version, "was": better["registered_version"]}
    assert client.get_model_version_by_alias(name, "champion").version == version.version


def test_top_fields_match_the_generators_truth_and_noise_ranks_near_zero(
    tiny_bundle_dir, tiny_split
):
    from leadscore.data.crm_world import true_logit

    leads = pd.concat([tiny_split.valid, tiny_split.test], ignore_index=True)
    y = leads["converted"].to_numpy(int)
    scorer = Scorer.from_bundle(load_bundle(tiny_bundle_dir))
    matrix, _, _ = scorer.encode_frame(leads)
    model = permutation_importance(scorer, matrix, y, repeats=3, seed=0).set_index("field")

    rng = np.random.default_rng(0)
    from sklearn.metrics import roc_auc_score

    reference = roc_auc_score(y, true_logit(leads))
    truth = {}
    for field in scorer.fields:  # the same measure on the generator's own logit
        shuffled = leads.assign(**{field: rng.permutation(leads[field].to_numpy())})
        truth[field] = reference - roc_auc_score(y, true_logit(shuffled))
    strongest = sorted(truth, key=truth.get, reverse=True)[:3]
    model_top = model["permutation_auc_mean"].sort_values(ascending=False).index[:6].tolist()
    assert set(strongest) <= set(model_top), (strongest, model_top)
    assert truth["form_variant"] == 0.0  # pure noise by construction
    spread = model["permutation_auc_std"].max()
    assert abs(model.loc["form_variant", "permutation_auc_mean"]) <= max(0.002, 2 * spread)
