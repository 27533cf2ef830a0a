"""Ed25519 key pairs: make, store, load, sign and verify (the `cryptography` package).

One asymmetric primitive for everything leadscore signs: a contract approval (each owner's key)
and a model bundle (the training host's key). The private key signs; the public key, which may
be committed or copied to a serving host, can only verify. So a host that checks a signature
cannot forge one.

Keys are stored as PEM: PKCS#8 for the private key (file mode 0600), SubjectPublicKeyInfo for
the public key. Signatures travel as base64 text. A key id is a short fingerprint of the public
key, to tell "signed with another key" from "tampered with".
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leadscore.core.errors import LeadscoreError

ALGORITHM = "Ed25519"


class KeyFileError(LeadscoreError):
    """A key file is missing, unreadable or not an Ed25519 key."""


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_key_pair(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """A new key pair: the private key at `private_path` (mode 0600, never overwritten), the
    public key at `public_path`."""
    key = new_private_key()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{private_path} exists already: not overwriting a private key"
        ) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem(key))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_pem(key.public_key()))
    return key


def parse_private_key(pem: bytes | str, source: str = "the private key") -> Ed25519PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data.strip() + b"\n", password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{source} is not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{source} is not an Ed25519 key")
    return key


def parse_public_key(pem: bytes | str, source: str = "the public key") -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data.strip() + b"\n")
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{source} is not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{source} is not an Ed25519 key")
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read {what} {path}: {error.strerror or error}") from None


def read_private_key(path: Path) -> Ed25519PrivateKey:
    return parse_private_key(_read(path, "the private key"), str(path))


def read_public_key(path: Path) -> Ed25519PublicKey:
    return parse_public_key(_read(path, "the public key"), str(path))


def key_id(key: Ed25519PublicKey) -> str:
    """A short public fingerprint: the first 16 hex digits of SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The base64 signature of `message`."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def verifies(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64) signs `message` under `key`."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
