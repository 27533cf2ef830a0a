"""The service can load `models:/<name>@champion`: the sealed bundle logged with the run."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from leadscore.mlops import tracking
from leadscore.model.bundle import BundleError
from leadscore.scoring.loading import ModelLoadError, load_served_model, read_card


def test_champion_alias_serves_the_registered_bundle(
    mlflow_store, tiny_models, tiny_split, tiny_params, tiny_bundle_dir, tiny_grading_record
):
    pipeline, _, card = tiny_models
    example = tiny_split.valid[list(card.spec.fields)].head(3)
    run = tracking.log_training_run(tiny_params, pipeline, card, example)
    tracking.log_grading(run, tiny_grading_record, tiny_bundle_dir)
    name = run["registered_model"]
    MlflowClient().set_registered_model_alias(name, "champion", run["registered_version"])

    served = load_served_model(f"models:/{name}@champion")
    assert served.version == card.model_version
    assert served.registry == {
        "name": name,
        "version": run["registered_version"],
        "run_id": run["run_id"],
        "uri": f"models:/{name}@champion",
    }
    same = load_served_model(f"models:/{name}/{run['registered_version']}")
    assert same.version == served.version
    # the service builds its request schema from the card alone, fetched without the model
    # (the model's facts: when and how fast it was trained come with the verified bundle)
    assert read_card(f"models:/{name}@champion").model_record() == served.card.model_record()

    with pytest.raises(ModelLoadError, match="cannot fetch"):
        load_served_model(f"models:/{name}@no-such-alias")


def test_a_malformed_registry_uri_is_refused():
    with pytest.raises(ModelLoadError) as error:
        load_served_model("models:/only-a-name")
    assert isinstance(error.value.__cause__, BundleError)
