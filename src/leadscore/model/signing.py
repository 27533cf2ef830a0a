"""Bundle signing: an Ed25519 signature over the bundle's manifest (`leadscore.core.keys`).

The host that seals bundles (where `dvc repro` runs) holds the private key; a host that serves
them holds only the public key, which can verify a bundle but never make one.

- Private key: `LEADSCORE_BUNDLE_SIGNING_KEY_FILE`, by default
  `~/.config/leadscore/bundle-signing.key` (under `$XDG_CONFIG_HOME` when set). Sealing a
  bundle creates it the first time (mode 0600), with its public key beside it
  (`bundle-signing.pub`), so `make run` then `make serve` works on a fresh machine.
- Public key: `LEADSCORE_BUNDLE_PUBLIC_KEY` (the PEM text), else
  `LEADSCORE_BUNDLE_PUBLIC_KEY_FILE`, else the `.pub` beside the private key file. Loading
  never creates or reads a private key.

`manifest.sig` holds the algorithm, the signing key's id (a fingerprint of its public key) and
the base64 signature. Bundles signed by older versions with a shared HMAC key are refused with
the way to re-seal them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.core import keys
from leadscore.core.errors import LeadscoreError

log = logging.getLogger(__name__)

ALGORITHM = keys.ALGORITHM  # "Ed25519"
HMAC_ALGORITHM = "HMAC-SHA256"  # what bundles were signed with before Ed25519
RESEAL = (
    "re-seal it with `leadscore seal` on the host that holds the signing key "
    "(LEADSCORE_BUNDLE_SIGNING_KEY_FILE), then copy the bundle again"
)


class BundleKeyError(LeadscoreError, RuntimeError):
    """No bundle key is configured, or a key file is unreadable or not an Ed25519 key."""


class KeySettings(BaseSettings):
    """Where the bundle keys come from (prefix `LEADSCORE_`)."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    bundle_signing_key_file: Path | None = Field(None, description="private key (sealing host)")
    bundle_public_key: str = Field("", description="the public key's PEM text")
    bundle_public_key_file: Path | None = Field(None, description="the public key's PEM file")


def config_directory() -> Path:
    """`$XDG_CONFIG_HOME/leadscore`, or `~/.config/leadscore`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "leadscore"


def signing_key_file(settings: KeySettings | None = None) -> Path:
    settings = settings or KeySettings()
    return settings.bundle_signing_key_file or config_directory() / "bundle-signing.key"


def public_key_file(settings: KeySettings | None = None) -> Path:
    """The configured public key file, else the one beside the private key file."""
    settings = settings or KeySettings()
    return settings.bundle_public_key_file or signing_key_file(settings).with_suffix(".pub")


def signing_key(create: bool = False) -> Ed25519PrivateKey:
    """The private key that seals bundles; with `create`, a new key pair is made when there is
    none yet (private key mode 0600, public key beside it)."""
    settings = KeySettings()
    path = signing_key_file(settings)
    try:
        if not path.is_file():
            if not create:
                raise BundleKeyError(
                    f"no bundle signing key {path}: sealing a bundle (`dvc repro`) creates it; "
                    "set LEADSCORE_BUNDLE_SIGNING_KEY_FILE to use another"
                )
            with contextlib.suppress(keys.KeyFileError):  # else another process made it first
                key = keys.write_key_pair(path, public_key_file(settings))
                log.warning(
                    "created the bundle signing key %s (mode 0600; keep it, never commit it) and "
                    "its public key %s (copy that one to the hosts that serve bundles)",
                    path,
                    public_key_file(settings),
                )
                return key
        return keys.read_private_key(path)
    except keys.KeyFileError as error:
        raise BundleKeyError(str(error)) from None


def verify_key() -> Ed25519PublicKey:
    """The public key bundles are verified with (no private key is read or needed)."""
    settings = KeySettings()
    try:
        if settings.bundle_public_key.strip():
            return keys.parse_public_key(settings.bundle_public_key, "LEADSCORE_BUNDLE_PUBLIC_KEY")
        path = public_key_file(settings)
        if path.is_file():
            return keys.read_public_key(path)
    except keys.KeyFileError as error:
        raise BundleKeyError(str(error)) from None
    raise BundleKeyError(
        f"no bundle public key: set LEADSCORE_BUNDLE_PUBLIC_KEY or "
        f"LEADSCORE_BUNDLE_PUBLIC_KEY_FILE, or copy {path.name} from the host that seals "
        f"bundles to {path}"
    )


def signature_record(data: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    """What `manifest.sig` holds: the algorithm, the key's id and the signature of `data`."""
    return {
        "algorithm": ALGORITHM,
        "key_id": keys.key_id(key.public_key()),
        "signature": keys.sign(key, data),
    }


def signature_problem(data: bytes, record: dict, key: Ed25519PublicKey) -> str | None:
    """Why `record` does not sign `data` under `key`, or None when it does."""
    algorithm = record.get("algorithm")
    if algorithm == HMAC_ALGORITHM:
        return (
            "signed with a shared HMAC key (HMAC-SHA256, before bundles were signed with "
            f"Ed25519); no longer accepted: {RESEAL}"
        )
    if algorithm != ALGORITHM:
        return f"unsupported signature algorithm {algorithm!r}"
    if keys.verifies(key, data, str(record.get("signature", ""))):
        return None
    if record.get("key_id") != keys.key_id(key):
        return (
            f"signed with another key (key id {record.get('key_id')}; the public key configured "
            f"here has key id {keys.key_id(key)})"
        )
    return "the signature does not match the manifest"
