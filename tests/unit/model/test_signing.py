"""Where the bundle keys come from, what a missing or broken key says, and why a signature is
refused. (Sealing and loading whole bundles: test_bundle.py.)"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from leadscore.core import keys
from leadscore.model.signing import (
    ALGORITHM,
    RESEAL,
    BundleKeyError,
    KeySettings,
    config_directory,
    public_key_file,
    signature_problem,
    signature_record,
    signing_key,
    signing_key_file,
    verify_key,
)

ENV = (
    "LEADSCORE_BUNDLE_SIGNING_KEY_FILE",
    "LEADSCORE_BUNDLE_PUBLIC_KEY",
    "LEADSCORE_BUNDLE_PUBLIC_KEY_FILE",
    "XDG_CONFIG_HOME",
)


@pytest.fixture
def no_keys(monkeypatch, tmp_path) -> Path:
    """No key configured; the home directory is an empty temporary one."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env here
    return tmp_path


def test_the_key_files_default_to_the_config_directory(no_keys, monkeypatch):
    assert config_directory() == no_keys / ".config" / "leadscore"
    assert signing_key_file() == no_keys / ".config" / "leadscore" / "bundle-signing.key"
    assert public_key_file() == no_keys / ".config" / "leadscore" / "bundle-signing.pub"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(no_keys / "xdg"))
    assert config_directory() == no_keys / "xdg" / "leadscore"
    monkeypatch.setenv("XDG_CONFIG_HOME", "")
    assert config_directory() == no_keys / ".config" / "leadscore"


def test_configured_key_files_win(no_keys):
    settings = KeySettings(bundle_signing_key_file=no_keys / "seal.key")
    assert signing_key_file(settings) == no_keys / "seal.key"
    assert public_key_file(settings) == no_keys / "seal.pub"  # beside the private key
    settings = KeySettings(
        bundle_signing_key_file=no_keys / "seal.key", bundle_public_key_file=no_keys / "other.pem"
    )
    assert public_key_file(settings) == no_keys / "other.pem"


def test_without_a_signing_key_sealing_says_how_to_get_one(no_keys):
    with pytest.raises(BundleKeyError) as raised:
        signing_key()
    path = no_keys / ".config" / "leadscore" / "bundle-signing.key"
    assert str(raised.value) == (
        f"no bundle signing key {path}: sealing a bundle (`dvc repro`) creates it; "
        "set LEADSCORE_BUNDLE_SIGNING_KEY_FILE to use another"
    )
    assert not path.exists()


def test_creating_a_key_pair_once_and_reading_it_back(no_keys):
    made = signing_key(create=True)
    private = no_keys / ".config" / "leadscore" / "bundle-signing.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public = keys.read_public_key(private.with_suffix(".pub"))
    assert keys.key_id(public) == keys.key_id(made.public_key())
    again = signing_key(create=True)  # the existing key, not a new one
    assert keys.key_id(again.public_key()) == keys.key_id(made.public_key())
    assert keys.key_id(signing_key().public_key()) == keys.key_id(made.public_key())
    assert keys.key_id(verify_key()) == keys.key_id(made.public_key())  # the .pub beside it


def test_a_broken_key_file_is_a_key_error(no_keys, monkeypatch):
    broken = no_keys / "broken.key"
    broken.write_text("not a key")
    monkeypatch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(broken))
    with pytest.raises(BundleKeyError, match=f"^{broken} is not a PEM private key"):
        signing_key()
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY", "not a key")
    with pytest.raises(BundleKeyError, match="^LEADSCORE_BUNDLE_PUBLIC_KEY is not a PEM public"):
        verify_key()


def test_the_public_key_text_wins_over_the_files(no_keys, monkeypatch):
    on_file = keys.write_key_pair(no_keys / "a.key", no_keys / "a.pub")
    in_env = keys.new_private_key()
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY_FILE", str(no_keys / "a.pub"))
    assert keys.key_id(verify_key()) == keys.key_id(on_file.public_key())
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY", "  \n")  # blank: the file still counts
    assert keys.key_id(verify_key()) == keys.key_id(on_file.public_key())
    monkeypatch.setenv("LEADSCORE_BUNDLE_PUBLIC_KEY", keys.public_pem(in_env.public_key()).decode())
    assert keys.key_id(verify_key()) == keys.key_id(in_env.public_key())


def test_without_a_public_key_verifying_says_where_to_put_one(no_keys):
    with pytest.raises(BundleKeyError) as raised:
        verify_key()
    path = no_keys / ".config" / "leadscore" / "bundle-signing.pub"
    assert str(raised.value) == (
        "no bundle public key: set LEADSCORE_BUNDLE_PUBLIC_KEY or "
        "LEADSCORE_BUNDLE_PUBLIC_KEY_FILE, or copy bundle-signing.pub from the host that seals "
        f"bundles to {path}"
    )


def test_a_signature_record_verifies_under_its_key_only():
    key = keys.new_private_key()
    record = signature_record(b"manifest", key)
    assert record["algorithm"] == ALGORITHM == "Ed25519"
    assert record["key_id"] == keys.key_id(key.public_key())
    assert set(record) == {"algorithm", "key_id", "signature"}
    assert signature_problem(b"manifest", record, key.public_key()) is None
    assert signature_problem(b"manifest!", record, key.public_key()) == (
        "the signature does not match the manifest"
    )
    unsigned = {key_: value for key_, value in record.items() if key_ != "signature"}
    assert signature_problem(b"manifest", unsigned, key.public_key()) == (
        "the signature does not match the manifest"
    )
    other = keys.new_private_key().public_key()
    assert signature_problem(b"manifest", record, other) == (
        f"signed with another key (key id {record['key_id']}; the public key configured here "
        f"has key id {keys.key_id(other)})"
    )


def test_old_and_unknown_algorithms_are_refused_by_name():
    key = keys.new_private_key()
    record = signature_record(b"manifest", key)
    assert signature_problem(
        b"manifest", {**record, "algorithm": "HMAC-SHA256"}, key.public_key()
    ) == (
        "signed with a shared HMAC key (HMAC-SHA256, before bundles were signed with Ed25519); "
        "no longer accepted: re-seal it with `leadscore seal` on the host that holds the signing "
        "key (LEADSCORE_BUNDLE_SIGNING_KEY_FILE), then copy the bundle again"
    )
    assert RESEAL.startswith("re-seal it with `leadscore seal`")
    assert signature_problem(b"manifest", {**record, "algorithm": "RSA"}, key.public_key()) == (
        "unsupported signature algorithm 'RSA'"
    )
    no_algorithm = {k: v for k, v in record.items() if k != "algorithm"}
    assert signature_problem(b"manifest", no_algorithm, key.public_key()) == (
        "unsupported signature algorithm None"
    )
