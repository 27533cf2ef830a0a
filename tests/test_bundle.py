"""The model bundle is checked against its SHA-256 manifest before it is loaded."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from leadscore.model.bundle import GRADING_FILE, MODEL_FILE, BundleError, load_bundle, save_bundle
from leadscore.scoring.scorer import score_leads


@pytest.fixture()
def bundle_dir(tmp_path, tiny_bundle_dir):
    return shutil.copytree(tiny_bundle_dir, tmp_path / "models")


def test_round_trip_scores_identically(bundle_dir, tiny_models, tiny_split):
    bundle = load_bundle(bundle_dir)
    leads = tiny_split.test.head(50)
    expected = tiny_models[0].predict_proba(leads)
    np.testing.assert_array_equal(bundle.pipeline.predict_proba(leads), expected)
    assert bundle.version == tiny_models[2]["model_version"]


def test_tampered_file_is_refused(bundle_dir):
    with (bundle_dir / MODEL_FILE).open("ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(BundleError, match="does not match its manifest"):
        load_bundle(bundle_dir)


def test_truncated_file_is_refused(bundle_dir):
    path = bundle_dir / MODEL_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match="tampered or truncated"):
        load_bundle(bundle_dir)


def test_missing_manifest_is_refused(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path)


def test_grading_of_another_model_is_refused(tmp_path, tiny_models, tiny_grading_record):
    record = {**tiny_grading_record, "model_version": "someone-else"}
    save_bundle(tmp_path / "models", *tiny_models, record)
    with pytest.raises(BundleError, match=GRADING_FILE):
        load_bundle(tmp_path / "models")


def test_scores_and_grades_follow_the_bundle(bundle_dir, tiny_split):
    bundle = load_bundle(bundle_dir)
    scored = score_leads(bundle, tiny_split.test)
    assert scored["score"].between(1, 100).all()
    assert set(scored["grade"]) <= {"A", "B", "C", "D"}
    order = scored.sort_values(["probability", "score"])  # leads of equal probability: the
    assert order["score"].is_monotonic_increasing  # raw output orders them (and the score)
    assert bundle.contract_version == bundle.grading_record["contract"]["version"]
