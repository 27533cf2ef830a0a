"""The model bundle is checked against its signed SHA-256 manifest before it is loaded."""

from __future__ import annotations

import json
import shutil
import stat

import joblib
import numpy as np
import pytest

from leadscore.model.bundle import (
    BUNDLE_FILES,
    GRADING_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    BundleError,
    load_baseline,
    load_bundle,
    save_bundle,
    sha256_of,
    write_manifest,
)
from leadscore.scoring.scorer import score_leads


@pytest.fixture()
def bundle_dir(tmp_path, tiny_bundle_dir):
    return shutil.copytree(tiny_bundle_dir, tmp_path / "models")


def test_round_trip_scores_identically(bundle_dir, tiny_models, tiny_split):
    bundle = load_bundle(bundle_dir)
    leads = tiny_split.test.head(50)
    expected = tiny_models[0].predict_proba(leads)
    np.testing.assert_array_equal(bundle.pipeline.predict_proba(leads), expected)
    assert bundle.version == tiny_models[2].model_version


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


# --- authentication: the signature is checked before anything is unpickled ----------------


class Payload:
    """A pickle that runs code when loaded: it creates `marker`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_a_malicious_pickle_with_a_recomputed_manifest_is_refused(bundle_dir, tmp_path):
    marker = tmp_path / "pwned"
    joblib.dump(Payload(marker), bundle_dir / MODEL_FILE)
    write_manifest_unsigned(bundle_dir)  # the attacker recomputes every hash
    with pytest.raises(BundleError, match="not sealed with this machine's bundle key"):
        load_bundle(bundle_dir)
    with pytest.raises(BundleError):
        load_baseline(bundle_dir)
    assert not marker.exists()


def test_a_bundle_signed_with_another_key_is_refused(bundle_dir, tmp_path, tiny_grading_record):
    marker = tmp_path / "pwned"
    joblib.dump(Payload(marker), bundle_dir / MODEL_FILE)
    seal_bundle_with(bundle_dir, tiny_grading_record, key=b"the attacker's own key")
    with pytest.raises(BundleError, match="signed with another key"):
        load_bundle(bundle_dir)
    assert not marker.exists()


def test_an_unsigned_bundle_is_refused(bundle_dir):
    (bundle_dir / SIGNATURE_FILE).unlink()
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(bundle_dir)


def test_without_a_key_nothing_loads(bundle_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("LEADSCORE_BUNDLE_KEY")
    monkeypatch.setenv("LEADSCORE_BUNDLE_KEY_FILE", str(tmp_path / "absent.key"))
    with pytest.raises(BundleError, match="no bundle key"):
        load_bundle(bundle_dir)


def test_sealing_creates_a_private_key_file_once(
    tmp_path, monkeypatch, tiny_models, tiny_grading_record
):
    monkeypatch.delenv("LEADSCORE_BUNDLE_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    save_bundle(tmp_path / "models", *tiny_models, tiny_grading_record)
    key_path = tmp_path / "config" / "leadscore" / "bundle.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_text()
    assert len(key.strip()) == 64
    save_bundle(tmp_path / "again", *tiny_models, tiny_grading_record)
    assert key_path.read_text() == key  # reused, not replaced
    assert load_bundle(tmp_path / "again").version == tiny_models[2].model_version


def write_manifest_unsigned(directory) -> None:
    manifest = {name: sha256_of(directory / name) for name in BUNDLE_FILES}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def seal_bundle_with(directory, grading_record, key: bytes) -> None:
    (directory / GRADING_FILE).write_text(json.dumps(grading_record))
    write_manifest(directory, list(BUNDLE_FILES), key=key)
