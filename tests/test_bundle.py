"""The model bundle is checked against its SHA-256 manifest before it is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from leadscore.bundle import MODEL_FILE, BundleError, load_bundle, save_bundle


@pytest.fixture()
def bundle_dir(tmp_path, tiny_models):
    pipeline, baseline, card = tiny_models
    save_bundle(tmp_path / "models", pipeline, baseline, card)
    return tmp_path / "models"


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
