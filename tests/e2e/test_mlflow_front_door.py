"""MLflow as an analyst opens it, on a copy of the reproduced tiny project (real DVC, real
MLflow store): the experiment opens in the model-training view; the run names its data sets
with digests, says what it was trained on, has flat params; re-running `importance` replaces
its tables; re-training the same model registers no new version; the first publishable
version is `champion`."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import DVC, project_env, run
from mlflow import MlflowClient
from mlflow.types.utils import _infer_schema

from leadscore.mlops.tracking import EXPERIMENT_KIND_TAG, MODEL_TRAINING
from leadscore.model.bundle import read_card

pytestmark = pytest.mark.e2e


@pytest.fixture()
def project(tiny_project, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(tiny_project, copy, symlinks=True)
    return copy


def client_for(project: Path) -> tuple[MlflowClient, dict]:
    card = read_card(project / "models" / "model_card.json").to_record()["mlflow"]
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    return MlflowClient(), card


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_the_run_reads_as_an_analyst_expects(project):
    client, card = client_for(project)
    experiment = client.get_experiment(card["experiment_id"])
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING  # the model-training view
    training = client.get_run(card["run_id"])
    inputs = {d.dataset.name: d.dataset for d in training.inputs.dataset_inputs}
    processed = project / "data" / "processed"
    assert {n: inputs[n].digest for n in ("train", "valid", "test")} == {
        n: md5(processed / f"{n}.parquet") for n in ("train", "valid", "test")
    }
    whole = _infer_schema(pd.read_parquet(processed / "train.parquet"))  # read value by value
    assert json.loads(inputs["train"].schema) == {"mlflow_colspec": whole.to_dict()}
    note = training.data.tags["mlflow.note.content"]
    assert "trained on" in note and "contract" in note
    params = training.data.params
    assert params["train.search.boosting.b1.learning_rate"] == "0.05"  # one param per setting
    assert not any(value.startswith("[{") for value in params.values())
    contract = json.loads((project / "reports" / "contract.json").read_text())
    if contract["publish_gate"]["publishable"]:  # first publishable version: champion
        aliases = client.get_registered_model(card["registered_model"]).aliases
        assert str(aliases["champion"]) == card["registered_version"]


def test_importance_twice_replaces_its_tables(project):
    client, card = client_for(project)
    env = project_env(project)
    for _ in range(2):
        run([str(project / "bin" / "leadscore"), "importance"], project, env)
    fields = len((project / "reports" / "importance.csv").read_text().splitlines()) - 1
    local = client.download_artifacts(card["run_id"], "importance/importance.json")
    table = json.loads(Path(local).read_text())
    assert len(table["data"]) == fields, len(table["data"])


def test_the_same_model_trained_again_is_not_registered_again(project):
    client, card = client_for(project)
    name = card["registered_model"]
    before = {v.version for v in client.search_model_versions(f"name = '{name}'")}
    env = project_env(project)
    run([DVC, "repro", "-f", "-s", "train"], project, env)
    after = {v.version for v in client.search_model_versions(f"name = '{name}'")}
    assert after == before
    again = read_card(project / "models" / "model_card.json").to_record()["mlflow"]
    assert again["run_id"] != card["run_id"]
    assert again["registered_version"] == card["registered_version"]
