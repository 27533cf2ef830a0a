"""The model card as a typed model: written and read back to the same bytes, tolerant of keys
it does not know, and clear about the keys it needs."""

from __future__ import annotations

import json
import shutil

import pytest

from leadscore.core.card import ModelCard, ModelCardError, TrainingRun
from leadscore.core.io import write_json
from leadscore.model.bundle import CARD_FILE, GRADING_FILE, load_bundle, seal_bundle
from leadscore.scoring.scorer import Scorer

OPTIONAL = ("model_family", "model_choice", "calibration", "input_example", "inputs", "mlflow")


def rewritten(card: ModelCard, tmp_path) -> bytes:
    path = tmp_path / "rewritten.json"
    write_json(path, card.to_record())
    return path.read_bytes()


def test_a_card_read_and_written_again_is_the_same_file(tiny_bundle_dir, tmp_path):
    written = (tiny_bundle_dir / CARD_FILE).read_bytes()
    card = ModelCard.read(tiny_bundle_dir / CARD_FILE)
    assert rewritten(card, tmp_path) == written
    assert card.spec.fields and card.model_version == json.loads(written)["model_version"]
    assert card.metrics.valid_roc_auc == json.loads(written)["metrics"]["valid_roc_auc"]


def test_keys_never_set_stay_absent_not_null(trained, tmp_path):
    """A logistic regression has no `iterations`; a size-chosen calibration no `cv_log_loss`."""
    _, _, card = trained
    record = json.loads(rewritten(card, tmp_path))
    logistic = [c for c in record["model_choice"]["candidates"] if c["family"] == "logistic"]
    assert logistic and all("iterations" not in c for c in logistic)
    assert "cv_log_loss" not in record["calibration"] and record["booster_iterations"] is None
    again = ModelCard.from_json(rewritten(card, tmp_path))
    assert rewritten(again, tmp_path) == rewritten(card, tmp_path)


def test_an_older_card_without_the_optional_sections_reads_with_defaults(tiny_bundle_dir, tmp_path):
    record = json.loads((tiny_bundle_dir / CARD_FILE).read_text())
    for key in OPTIONAL:
        record.pop(key, None)
    card = ModelCard.from_record(record)
    assert card.model_family == "boosting" and card.mlflow is None
    assert card.input_normalisation.id_column == "lead_id"
    assert json.loads(rewritten(card, tmp_path)) == record  # no key added on the way


def test_unknown_keys_are_kept_and_a_resealed_bundle_still_serves(
    tiny_bundle_dir, tiny_split, tmp_path
):
    directory = shutil.copytree(tiny_bundle_dir, tmp_path / "models")
    record = json.loads((directory / CARD_FILE).read_text())
    record["reviewed_by"] = "the analyst"  # hand-edited
    record["training_data"]["source_system"] = "crm-2027"  # a newer writer's key
    (directory / CARD_FILE).write_text(json.dumps(record))
    seal_bundle(directory, json.loads((directory / GRADING_FILE).read_text()))

    bundle = load_bundle(directory)
    assert bundle.card.model_extra == {"reviewed_by": "the analyst"}
    assert bundle.card.to_record()["training_data"]["source_system"] == "crm-2027"
    scorer = Scorer.from_bundle(bundle)  # compiled and checked against the pipeline
    matrix, _, _ = scorer.encode_frame(tiny_split.test.head(3))
    probability = scorer.score(matrix).probability
    assert len(probability) == 3 and ((probability > 0) & (probability < 1)).all()


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("model_version",), "missing key 'model_version'"),
        (("training_data", "sha256"), "missing key 'training_data.sha256'"),
        (("features",), "missing key 'features'"),
    ],
)
def test_a_missing_key_is_named(tiny_bundle_dir, tmp_path, path, named):
    record = json.loads((tiny_bundle_dir / CARD_FILE).read_text())
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    card_path = tmp_path / CARD_FILE
    card_path.write_text(json.dumps(record))
    with pytest.raises(ModelCardError) as error:
        ModelCard.read(card_path)
    assert named in str(error.value) and str(card_path) in str(error.value)


def test_a_wrong_type_and_a_non_object_are_refused_clearly(tiny_bundle_dir):
    record = json.loads((tiny_bundle_dir / CARD_FILE).read_text())
    record["training_data"]["rows_train"] = "many"
    with pytest.raises(ModelCardError, match=r"key 'training_data\.rows_train'"):
        ModelCard.from_record(record, "card.json")
    with pytest.raises(ModelCardError, match="not a model card"):
        ModelCard.from_json("[1, 2]", "card.json")
    with pytest.raises(ModelCardError, match="not valid JSON"):
        ModelCard.from_json("{", "card.json")


def test_the_card_file_holds_the_models_facts_and_the_run_record_the_runs(trained, tmp_path):
    """model_card.json's hash is committed (dvc.lock): two runs of the same recipe write the
    same card; when, how fast and which MLflow run go to training_run.json, and reading the
    bundle puts them back."""
    from leadscore.model.bundle import RUN_FILE, read_card, save_fitted

    pipeline, baseline, card = trained
    runs = []
    for name, seconds in (("first", 1.5), ("second", 9.25)):
        other = card.model_copy(deep=True)
        other.trained_at = f"2026-12-0{len(runs) + 1}T10:00:00+00:00"
        other.metrics.fit_seconds = seconds
        other.mlflow = TrainingRun(tracking_uri="sqlite:///m.db", experiment_id="1", run_id=name)
        save_fitted(tmp_path / name, pipeline, baseline, other)
        runs.append(tmp_path / name)
    first, second = ((path / CARD_FILE).read_bytes() for path in runs)
    assert first == second
    for key in ("trained_at", "fit_seconds", "search_seconds", "mlflow"):
        assert f'"{key}"' not in first.decode(), key
    record = json.loads((runs[1] / RUN_FILE).read_text())
    assert record["card"]["metrics"]["fit_seconds"] == 9.25
    assert record["card"]["mlflow"]["run_id"] == "second"
    again = read_card(runs[1] / CARD_FILE)
    assert again.mlflow is not None and again.mlflow.run_id == "second"
    assert again.trained_at == "2026-12-02T10:00:00+00:00" and again.metrics.fit_seconds == 9.25
    assert [c.fit_seconds for c in again.model_choice.candidates] == [
        c.fit_seconds for c in card.model_choice.candidates
    ]
