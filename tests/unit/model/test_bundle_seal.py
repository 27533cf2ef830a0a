"""Sealing and loading a bundle built by hand (no model fit): what the manifest and signature
hold, which files a seal covers, the run record, and every refusal in words.
(A trained model's bundle, tampering and foreign keys: test_bundle.py.)"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from leadscore.core import keys
from leadscore.core.card import ModelCard
from leadscore.core.config import parse_params
from leadscore.model.bundle import (
    BASELINE_FILE,
    BUNDLE_FILES,
    CARD_FILE,
    GRADING_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    RUN_FILE,
    SIGNATURE_FILE,
    BundleError,
    canonical_parameters,
    load_baseline,
    load_bundle,
    parse_manifest,
    read_card,
    read_checked,
    read_fitted,
    read_verified,
    round_significant,
    run_record,
    save_bundle,
    save_fitted,
    seal,
    seal_bundle,
    sealed_names,
    sha256_of,
    verified_manifest,
    verify_bundle,
    write_manifest,
)
from leadscore.model.grading import Grading
from leadscore.model.thresholds import grading_record

SEAL = "seal it with `leadscore seal` on the host that holds the bundle signing key"
CARD = {
    "model_version": "m-1",
    "trained_at": "2026-01-02T03:04:05Z",
    "training_data": {"sha256": "abc", "rows_train": 10, "rows_valid": 5,
                      "created_from": None, "created_to": None},
    "features": {"numeric": ["visits"]},
    "excluded_fields": [],
    "metrics": {"valid_roc_auc": 0.7, "valid_baseline_roc_auc": 0.6, "fit_seconds": 1.5},
    "params": {},
    "outcome": {},
}  # fmt: skip


def card(**changes) -> ModelCard:
    return ModelCard.from_record({**CARD, **changes})


@pytest.fixture
def contract(default_params_raw):
    return parse_params(default_params_raw).contract


def grading_of(contract, version: str = "m-1") -> dict:
    grading = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, (0.5,))
    derivation = {"method": "contract_promises", "grades": {}}
    return grading_record(grading, derivation, contract, version)


@pytest.fixture
def key() -> keys.Ed25519PrivateKey:
    return keys.new_private_key()


@pytest.fixture
def sealed(tmp_path, contract) -> Path:
    """A bundle of plain objects, sealed with the test session's key."""
    directory = tmp_path / "models"
    save_fitted(directory, {"model": 1}, {"baseline": 2}, card(), {"table": {"a": [1]}})
    seal_bundle(directory, grading_of(contract))
    return directory


def test_a_file_is_hashed_whole_whatever_the_chunk_size(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"0123456789")
    expected = hashlib.sha256(b"0123456789").hexdigest()
    assert sha256_of(path) == expected
    assert sha256_of(path, chunk_size=3) == expected


def test_the_manifest_lists_sorted_hashes_and_is_signed(tmp_path, key):
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    manifest = write_manifest(tmp_path, ["b.txt", "a.txt"], key)
    assert list(manifest) == ["a.txt", "b.txt"]
    assert manifest["a.txt"] == hashlib.sha256(b"a").hexdigest()
    data = (tmp_path / MANIFEST_FILE).read_bytes()
    assert data == (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    record = json.loads((tmp_path / SIGNATURE_FILE).read_text())
    assert record["key_id"] == keys.key_id(key.public_key())
    assert keys.verifies(key.public_key(), data, record["signature"])
    assert verified_manifest(tmp_path, key.public_key()) == manifest


def test_sealing_without_a_usable_key_is_a_bundle_error(tmp_path, monkeypatch):
    broken = tmp_path / "broken.key"
    broken.write_text("not a key")
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(broken))
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(BundleError, match=f"^{broken} is not a PEM private key"):
        write_manifest(tmp_path, ["a.txt"])
    assert not (tmp_path / MANIFEST_FILE).exists()


def test_values_keep_six_significant_digits():
    values = np.array([123456789.0, 0.000123456789, -98765.4321, 0.0, np.inf, 1.0])
    rounded = round_significant(values)
    assert rounded[:4].tolist() == pytest.approx(
        [123457000.0, 0.000123457, -98765.4, 0.0], rel=1e-12
    )
    assert rounded[4] == np.inf and rounded[5] == 1.0
    assert np.isnan(round_significant(np.array([np.nan]))[0])
    assert round_significant(np.array([0.123456]), digits=2).tolist() == pytest.approx([0.12])


def test_fitted_parameters_are_rounded_inside_every_estimator():
    scaler, model = StandardScaler(), LogisticRegression(C=0.123456789)
    scaler.mean_ = np.array([1.23456789])
    model.coef_ = np.array([[0.987654321]])
    model.intercept_ = 2.3456789  # a float, kept a float
    pipeline = Pipeline([("scale", scaler), ("model", model)])
    nested = {"fitted": [pipeline], "again": (pipeline,)}
    assert canonical_parameters(nested) is nested
    assert scaler.mean_.tolist() == pytest.approx([1.23457], rel=1e-12)
    assert model.coef_.tolist() == [[pytest.approx(0.987654, rel=1e-12)]]
    assert isinstance(model.intercept_, float) and model.intercept_ == pytest.approx(2.34568)
    assert model.C == 0.123456789  # a setting, not a fitted parameter

    class Foreign:  # not scikit-learn's: left alone
        coef_ = np.array([0.123456789])

    foreign = Foreign()
    foreign.coef_ = np.array([0.123456789])
    assert canonical_parameters(foreign).coef_.tolist() == [0.123456789]
    loop: list = []
    loop.append(loop)
    assert canonical_parameters(loop) is loop  # a cycle ends
    mapping: dict = {}
    mapping["again"] = mapping
    assert canonical_parameters(mapping) is mapping  # through a dict too
    selfish = LogisticRegression()
    selfish.me = selfish  # and through an estimator's attribute
    assert canonical_parameters(selfish) is selfish


def test_saving_writes_the_fitted_files_and_the_runs_facts_apart(tmp_path):
    directory = tmp_path / "models"
    save_fitted(directory, {"model": 1}, {"baseline": 2}, card())
    assert joblib.load(directory / MODEL_FILE) == {"model": 1}
    assert joblib.load(directory / BASELINE_FILE) == {"baseline": 2}
    assert json.loads((directory / "lookups.json").read_text()) == {}
    written = json.loads((directory / CARD_FILE).read_text())
    assert "trained_at" not in written and "fit_seconds" not in written["metrics"]
    run = json.loads((directory / RUN_FILE).read_text())
    assert run["model_sha256"] == sha256_of(directory / MODEL_FILE)
    assert run["card"]["trained_at"] == "2026-01-02T03:04:05Z"
    assert not (directory / MANIFEST_FILE).exists()  # not sealed before grading
    pipeline, read = read_fitted(directory)
    assert pipeline == {"model": 1} and read.trained_at == "2026-01-02T03:04:05Z"


def test_the_run_record_counts_only_for_its_own_model(sealed):
    assert run_record(sealed).model_sha256 == sha256_of(sealed / MODEL_FILE)
    record_bytes = (sealed / RUN_FILE).read_bytes()
    assert run_record(sealed, record_bytes) == run_record(sealed)
    assert run_record(sealed, b"not json") is None
    assert read_card(sealed / CARD_FILE).trained_at == "2026-01-02T03:04:05Z"
    other = json.loads(record_bytes)
    other["model_sha256"] = "0" * 64
    (sealed / RUN_FILE).write_text(json.dumps(other))
    assert run_record(sealed) is None
    assert read_card(sealed / CARD_FILE).trained_at is None
    assert RUN_FILE not in sealed_names(sealed)
    (sealed / RUN_FILE).unlink()
    assert run_record(sealed) is None
    # the bytes given count, not the file (a loader passes what it checked)
    assert run_record(sealed, record_bytes).model_sha256 == sha256_of(sealed / MODEL_FILE)
    (sealed / MODEL_FILE).unlink()
    assert run_record(sealed, record_bytes) is None  # no model to match


def test_a_seal_covers_the_bundle_files_and_the_run_record(sealed):
    assert sealed_names(sealed) == [*BUNDLE_FILES, RUN_FILE]
    manifest = json.loads((sealed / MANIFEST_FILE).read_text())
    assert sorted(manifest) == sorted([*BUNDLE_FILES, RUN_FILE])
    assert verify_bundle(sealed) == manifest
    (sealed / "lookups.json").unlink()
    with pytest.raises(BundleError) as raised:
        seal(sealed)
    assert str(raised.value) == (
        f"{sealed} lacks ['lookups.json']: nothing to seal (`dvc repro` makes the bundle, "
        "`dvc checkout` restores a version's files)"
    )


def test_a_bundle_loads_with_its_card_grading_lookups_and_runs_facts(sealed, contract):
    bundle = load_bundle(str(sealed))
    assert bundle.pipeline == {"model": 1}
    assert bundle.version == "m-1"
    assert bundle.card.trained_at == "2026-01-02T03:04:05Z"  # the sealed run record's
    assert bundle.lookups == {"table": {"a": [1]}}
    assert bundle.contract_version == str(contract.version)
    assert bundle.grading.thresholds == {"A": 0.5, "B": 0.2, "C": 0.1}
    assert bundle.grading_record["model_version"] == "m-1"
    assert bundle.path == sealed
    assert load_baseline(sealed) == {"baseline": 2}


def test_a_retrain_of_the_same_model_reseals_its_new_run(sealed):
    save_fitted(sealed, {"model": 1}, {"baseline": 2}, card(trained_at="2026-02-01T00:00:00Z"),
                {"table": {"a": [1]}})  # fmt: skip
    assert load_bundle(sealed).card.trained_at == "2026-02-01T00:00:00Z"
    # another model: the bundle stays unsealed until the grade stage seals it
    save_fitted(sealed, {"model": 9}, {"baseline": 2}, card(), {"table": {"a": [1]}})
    with pytest.raises(BundleError, match="does not match its manifest"):
        load_bundle(sealed)


def test_a_bundle_without_the_run_record_loads_without_its_facts(sealed, contract):
    (sealed / RUN_FILE).unlink()
    seal_bundle(sealed, grading_of(contract))
    assert RUN_FILE not in json.loads((sealed / MANIFEST_FILE).read_text())
    assert load_bundle(sealed).card.trained_at is None


def test_a_grading_of_another_model_or_a_broken_one_is_refused(sealed, contract):
    seal_bundle(sealed, grading_of(contract, "m-2"))
    with pytest.raises(BundleError) as raised:
        load_bundle(sealed)
    assert str(raised.value) == f"{sealed / GRADING_FILE} was derived for model m-2, not m-1"
    (sealed / GRADING_FILE).write_text("{}")
    seal(sealed)
    with pytest.raises(BundleError, match=f"^{sealed}: "):
        load_bundle(sealed)
    (sealed / GRADING_FILE).write_text("{")
    seal(sealed)
    with pytest.raises(BundleError, match=f"^{sealed}: "):
        load_bundle(sealed)


def test_without_a_manifest_or_a_signature_nothing_loads(sealed):
    (sealed / SIGNATURE_FILE).unlink()
    with pytest.raises(BundleError) as raised:
        verified_manifest(sealed)
    assert str(raised.value) == (
        f"{sealed / SIGNATURE_FILE} not found: the bundle is not signed; refusing to load it "
        f"({SEAL})"
    )
    (sealed / MANIFEST_FILE).unlink()
    with pytest.raises(BundleError) as raised:
        verified_manifest(sealed)
    assert str(raised.value) == (
        f"{sealed / MANIFEST_FILE} not found: not a model bundle, or not sealed; refusing to "
        f"load it (`dvc repro` makes and seals it; for files `dvc checkout` restored, {SEAL})"
    )


def test_a_signature_that_is_no_record_or_does_not_verify_is_refused(sealed, key):
    manifest = sealed / MANIFEST_FILE
    for text in ("not json", "[1, 2]"):
        (sealed / SIGNATURE_FILE).write_text(text)
        with pytest.raises(BundleError) as raised:
            verified_manifest(sealed)
        assert str(raised.value) == (
            f"{manifest}: {sealed / SIGNATURE_FILE} is not a signature record; refusing to load "
            "a bundle that was not sealed with the private key of the configured bundle public "
            f"key (LEADSCORE_BUNDLE_PUBLIC_KEY); to serve these files, {SEAL}"
        )
    write_manifest(sealed, list(BUNDLE_FILES), key)
    assert verified_manifest(sealed, key.public_key())  # the key given wins
    with pytest.raises(BundleError, match="^.*: signed with another key"):
        verified_manifest(sealed)


def test_without_a_public_key_verifying_is_a_bundle_error(sealed, monkeypatch, tmp_path):
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(tmp_path / "absent.key"))
    with pytest.raises(BundleError, match="^no bundle public key"):
        verified_manifest(sealed)


def test_a_manifest_authenticated_elsewhere_is_checked_by_its_digest(sealed, monkeypatch, tmp_path):
    digest = hashlib.sha256((sealed / MANIFEST_FILE).read_bytes()).hexdigest()
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(tmp_path / "absent.key"))
    (sealed / SIGNATURE_FILE).unlink()  # no key and no signature needed
    assert load_bundle(sealed, manifest_sha256=digest).version == "m-1"
    with pytest.raises(BundleError) as raised:
        verified_manifest(sealed, None, "0" * 64)
    assert (
        str(raised.value) == f"{sealed / MANIFEST_FILE} is not the manifest that was authenticated"
    )


def test_a_manifest_must_be_a_json_object(tmp_path):
    path = tmp_path / MANIFEST_FILE
    assert parse_manifest(path, b'{"a": "1"}') == {"a": "1"}
    with pytest.raises(BundleError, match=f"^{path} is not valid JSON: "):
        parse_manifest(path, b"{")
    with pytest.raises(BundleError) as raised:
        parse_manifest(path, b"[]")
    assert str(raised.value) == f"{path} is not a manifest"


def test_each_file_is_checked_against_the_manifest_by_name(tmp_path):
    (tmp_path / "a").write_bytes(b"alpha")
    digest = hashlib.sha256(b"alpha").hexdigest()
    assert read_checked(tmp_path, {"a": digest}, ("a",)) == {"a": b"alpha"}
    with pytest.raises(BundleError) as raised:
        read_checked(tmp_path, {"a": digest}, ("a", "b", "c"))
    assert (
        str(raised.value) == f"{tmp_path} manifest does not cover ['b', 'c']: an incomplete bundle"
    )
    with pytest.raises(BundleError) as raised:
        read_checked(tmp_path, {"a": digest, "b": digest}, ("a", "b"))
    assert str(raised.value) == f"bundle file {tmp_path / 'b'} is missing"
    wrong = "f" * 64
    with pytest.raises(BundleError) as raised:
        read_checked(tmp_path, {"a": wrong}, ("a",))
    assert str(raised.value) == (
        f"bundle file {tmp_path / 'a'} does not match its manifest (sha256 {digest[:12]}... != "
        f"{wrong[:12]}...): refusing to load a tampered or truncated model (if you changed it "
        f"yourself, with `dvc checkout` or a re-train, {SEAL})"
    )


def test_an_unsealed_bundle_cannot_be_read_for_grading_without_its_files(tmp_path):
    with pytest.raises(BundleError) as raised:
        read_fitted(tmp_path)
    assert str(raised.value) == f"{tmp_path / MODEL_FILE} not found (run `dvc repro train`)"
    joblib.dump({}, tmp_path / MODEL_FILE)
    with pytest.raises(BundleError) as raised:
        read_fitted(tmp_path)
    assert str(raised.value) == f"{tmp_path / CARD_FILE} not found (run `dvc repro train`)"


def test_a_bundle_saved_whole_into_a_new_directory_loads(tmp_path, contract):
    directory = tmp_path / "new" / "models"
    manifest = save_bundle(directory, {"model": 1}, {"baseline": 2}, card(), grading_of(contract))
    assert sorted(manifest) == sorted([*BUNDLE_FILES, RUN_FILE])
    assert load_bundle(directory).pipeline == {"model": 1}
    assert load_baseline(directory) == {"baseline": 2}


def test_reading_verified_files_takes_the_key_or_the_digest_given(sealed, key):
    write_manifest(sealed, list(BUNDLE_FILES), key)  # sealed with another key than configured
    files = read_verified(sealed, (MODEL_FILE,), key.public_key())
    assert joblib.load(io.BytesIO(files[MODEL_FILE])) == {"model": 1}
    digest = hashlib.sha256((sealed / MANIFEST_FILE).read_bytes()).hexdigest()
    (sealed / SIGNATURE_FILE).unlink()
    assert set(read_verified(sealed, (CARD_FILE,), None, digest)) == {CARD_FILE}


def test_verifying_a_bundle_checks_every_file_of_its_manifest(sealed):
    run = sealed / RUN_FILE
    run.write_text(run.read_text().replace("2026-01-02", "2026-01-03"))  # not a bundle file
    with pytest.raises(BundleError, match="training_run.json does not match its manifest"):
        verify_bundle(sealed)
