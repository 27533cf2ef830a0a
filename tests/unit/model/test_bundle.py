"""The model bundle is checked against its signed SHA-256 manifest before it is loaded."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import stat

import joblib
import numpy as np
import pytest

from leadscore.core.keys import key_id, new_private_key, read_public_key
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
    with pytest.raises(BundleError, match="signature does not match the manifest"):
        load_bundle(bundle_dir)
    with pytest.raises(BundleError):
        load_baseline(bundle_dir)
    assert not marker.exists()


def test_a_bundle_signed_with_another_key_is_refused(bundle_dir, tmp_path, tiny_grading_record):
    marker = tmp_path / "pwned"
    joblib.dump(Payload(marker), bundle_dir / MODEL_FILE)
    attacker = new_private_key()
    seal_bundle_with(bundle_dir, tiny_grading_record, key=attacker)
    with pytest.raises(BundleError, match="signed with another key") as refused:
        load_bundle(bundle_dir)
    assert key_id(attacker.public_key()) in str(refused.value)
    assert not marker.exists()


def test_an_hmac_signed_bundle_is_refused_with_how_to_reseal(bundle_dir):
    """Bundles of earlier versions carry an HMAC-SHA256 signature (a shared key: whoever could
    verify could also sign); they are refused, and the message says how to re-seal."""
    data = (bundle_dir / MANIFEST_FILE).read_bytes()
    secret = b"the old shared key"
    record = {
        "algorithm": "HMAC-SHA256",
        "key_id": hashlib.sha256(b"leadscore bundle key id\0" + secret).hexdigest()[:12],
        "signature": hmac.new(secret, data, hashlib.sha256).hexdigest(),
    }
    (bundle_dir / SIGNATURE_FILE).write_text(json.dumps(record))
    with pytest.raises(BundleError, match="HMAC") as refused:
        load_bundle(bundle_dir)
    assert "leadscore seal" in str(refused.value)


def test_an_unsigned_bundle_is_refused(bundle_dir):
    (bundle_dir / SIGNATURE_FILE).unlink()
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(bundle_dir)


def test_without_a_public_key_nothing_loads(bundle_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(tmp_path / "absent.key"))
    with pytest.raises(BundleError, match="no bundle public key"):
        load_bundle(bundle_dir)


def test_verifying_needs_only_the_public_key(
    bundle_dir, monkeypatch, tmp_path, bundle_key_for_tests
):
    """A serving host holds the public key alone (as PEM text or a file); no private key is
    read, and none is created."""
    public = bundle_key_for_tests.with_suffix(".pub")
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(tmp_path / "no-private.key"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY", public.read_text())
    assert load_bundle(bundle_dir).version
    monkeypatch.delenv("LEADSCORE_BUNDLE_PUBLIC_KEY")
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY_FILE", str(public))
    assert load_bundle(bundle_dir).version
    assert not (tmp_path / "no-private.key").exists() and not (tmp_path / "config").exists()


def test_sealing_creates_a_key_pair_once(tmp_path, monkeypatch, tiny_models, tiny_grading_record):
    monkeypatch.delenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    save_bundle(tmp_path / "models", *tiny_models, tiny_grading_record)
    private = tmp_path / "config" / "leadscore" / "bundle-signing.key"
    public = private.with_suffix(".pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = private.read_bytes()
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    save_bundle(tmp_path / "again", *tiny_models, tiny_grading_record)
    assert private.read_bytes() == key  # reused, not replaced
    assert load_bundle(tmp_path / "again").version == tiny_models[2].model_version
    signed = json.loads((tmp_path / "again" / SIGNATURE_FILE).read_text())
    assert signed["algorithm"] == "Ed25519" and signed["key_id"] == key_id(read_public_key(public))
    assert b"PRIVATE" not in b"".join(p.read_bytes() for p in (tmp_path / "again").iterdir())


def write_manifest_unsigned(directory) -> None:
    manifest = {name: sha256_of(directory / name) for name in BUNDLE_FILES}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def seal_bundle_with(directory, grading_record, key) -> None:
    (directory / GRADING_FILE).write_text(json.dumps(grading_record))
    write_manifest(directory, list(BUNDLE_FILES), key=key)
