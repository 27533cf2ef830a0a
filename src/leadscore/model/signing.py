"""Bundle signing: an HMAC-SHA256 over the bundle's manifest, with a key kept off the bundle.

The key is `LEADSCORE_BUNDLE_KEY` (environment or `.env`) when set; otherwise the key file
`LEADSCORE_BUNDLE_KEY_FILE`, by default `~/.config/leadscore/bundle.key` (under
`$XDG_CONFIG_HOME` when set). Sealing a bundle creates that file the first time (a random
256-bit key, mode 0600), so `make run` works on a fresh machine without a hand step; loading
never creates a key. Whoever can write `models/` but not read the key cannot make a bundle the
service will load: a changed file fails its SHA-256, a recomputed manifest fails the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.core.redact import register_secrets

log = logging.getLogger(__name__)

ALGORITHM = "HMAC-SHA256"


class BundleKeyError(RuntimeError):
    """No bundle key is configured (or the key file is unreadable)."""


class KeySettings(BaseSettings):
    """Where the bundle key comes from (prefix `LEADSCORE_`)."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    bundle_key: SecretStr = SecretStr("")
    bundle_key_file: Path | None = None


def default_key_file() -> Path:
    """`$XDG_CONFIG_HOME/leadscore/bundle.key`, or `~/.config/leadscore/bundle.key`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "leadscore" / "bundle.key"


def key_file(settings: KeySettings | None = None) -> Path:
    settings = settings or KeySettings()
    return settings.bundle_key_file or default_key_file()


def create_key_file(path: Path) -> bytes:
    """Write a new random key to `path` (mode 0600); if another process won the race, use its."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    log.warning("created the bundle signing key %s (mode 0600; keep it, never commit it)", path)
    return key.encode()


def read_key_file(path: Path) -> bytes:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise BundleKeyError(f"cannot read the bundle key file {path}: {error}") from None
    if not key:
        raise BundleKeyError(f"the bundle key file {path} is empty")
    return key.encode()


def bundle_key(create: bool = False) -> bytes:
    """The signing key; with `create`, the key file is made when no key exists yet."""
    settings = KeySettings()
    secret = settings.bundle_key.get_secret_value().strip()
    path = key_file(settings)
    if secret:
        key = secret.encode()
    elif path.is_file():
        key = read_key_file(path)
    elif create:
        key = create_key_file(path)
    else:
        raise BundleKeyError(
            f"no bundle key: set LEADSCORE_BUNDLE_KEY, or provide the key file {path} "
            "(sealing a bundle with `dvc repro` creates it)"
        )
    register_secrets([key.decode()])
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, to tell "another key" from "tampered"."""
    return hashlib.sha256(b"leadscore bundle key id\0" + key).hexdigest()[:12]


def signature_record(data: bytes, key: bytes) -> dict[str, str]:
    """What `manifest.sig` holds: the algorithm, the key's fingerprint and the HMAC of `data`."""
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(key),
        "signature": hmac.new(key, data, hashlib.sha256).hexdigest(),
    }


def signature_problem(data: bytes, record: dict, key: bytes) -> str | None:
    """Why `record` does not sign `data` under `key`, or None when it does."""
    if record.get("algorithm") != ALGORITHM:
        return f"unsupported signature algorithm {record.get('algorithm')!r}"
    expected = hmac.new(key, data, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected.encode(), str(record.get("signature", "")).encode()):
        return None
    if record.get("key_id") != key_id(key):
        return (
            f"signed with another key (key id {record.get('key_id')}, this machine's key is "
            f"{key_id(key)})"
        )
    return "the signature does not match the manifest"
