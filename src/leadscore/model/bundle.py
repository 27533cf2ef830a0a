"""The model bundle: fitted pipeline, baseline, model card and grading, sealed and signed.

`models/` holds exactly one bundle. The train stage writes the fitted files and the card; the
grade stage adds the grading (thresholds derived from the contract) and seals the bundle: every
file is hashed into `manifest.json`, and the manifest is signed with the sealing host's Ed25519
private key (`manifest.sig`, see `leadscore.model.signing`). Loading checks the signature with
the public key first, then reads each file once, checks those bytes against the manifest and
loads from the same bytes, so nothing is unpickled that the key holder did not seal, and a
tampered or truncated file is refused instead of served.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leadscore.core.errors import LeadscoreError
from leadscore.core.io import atomic_path, write_json
from leadscore.data.inputs import LOOKUPS_FILE
from leadscore.model.card import ModelCard
from leadscore.model.grading import Grading
from leadscore.model.signing import (
    BundleKeyError,
    signature_problem,
    signature_record,
    signing_key,
    verify_key,
)

MODEL_FILE = "model.joblib"
BASELINE_FILE = "baseline.joblib"
CARD_FILE = "model_card.json"
GRADING_FILE = "grading.json"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
# lookups.json: the joined tables' fields the model reads, looked up by key at scoring
# (leadscore.data.inputs); `{}` for an export without joined tables
BUNDLE_FILES = (MODEL_FILE, BASELINE_FILE, CARD_FILE, GRADING_FILE, LOOKUPS_FILE)


class BundleError(LeadscoreError, RuntimeError):
    """The bundle is missing, incomplete, or does not match its manifest."""


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle. `grading_record` is `grading.json`: thresholds, score edges, contract;
    `lookups` is `lookups.json`: the sealed joined tables (column -> values per table)."""

    pipeline: Any
    card: ModelCard
    grading_record: dict
    path: Path
    lookups: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.card.model_version

    @property
    def contract_version(self) -> str:
        return str(self.grading_record["contract"]["version"])

    @property
    def grading(self) -> Grading:
        return Grading.from_dict(self.grading_record)


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(
    directory: Path, names: list[str], key: Ed25519PrivateKey | None = None
) -> dict[str, str]:
    """Hash `names` into `manifest.json` and sign it into `manifest.sig` (the signing key is
    created on first use, see `leadscore.model.signing`)."""
    manifest = {name: sha256_of(directory / name) for name in sorted(names)}
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    try:
        record = signature_record(data, key or signing_key(create=True))
    except BundleKeyError as error:
        raise BundleError(str(error)) from None
    with atomic_path(directory / MANIFEST_FILE) as temporary:
        temporary.write_bytes(data)
    write_json(directory / SIGNATURE_FILE, record)
    return manifest


# The continuous parameters an optimiser or a BLAS sum fits (linear coefficients, scaler
# statistics, sigmoid calibration): their last bits differ between CPUs (FMA, AVX-512,
# OpenBLAS kernels), which made the same run's baseline.joblib hash differently on another
# machine. They are stored to this many significant digits; tree thresholds and bins are
# midpoints of data values, exact on any machine, and stay as fitted.
FITTED_PARAMETERS = ("coef_", "intercept_", "mean_", "var_", "scale_", "a_", "b_")
SIGNIFICANT_DIGITS = 6


def round_significant(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """Each value to `digits` significant digits (zeros and non-finite values as they are)."""
    finite = np.isfinite(values) & (values != 0)
    magnitude = np.floor(np.log10(np.abs(np.where(finite, values, 1.0))))
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.where(finite, np.round(values * scale) / scale, values)


def canonical_parameters(fitted: Any, seen: set[int] | None = None) -> Any:
    """Round the fitted continuous parameters of every estimator inside `fitted`, in place, so
    the pickle's bytes are the same on any machine (`FITTED_PARAMETERS`)."""
    seen = set() if seen is None else seen
    if id(fitted) in seen:
        return fitted
    seen.add(id(fitted))
    if isinstance(fitted, list | tuple):
        for item in fitted:
            canonical_parameters(item, seen)
    elif isinstance(fitted, dict):
        for item in fitted.values():
            canonical_parameters(item, seen)
    elif type(fitted).__module__.startswith("sklearn") and hasattr(fitted, "__dict__"):
        for name, value in vars(fitted).items():
            if name in FITTED_PARAMETERS and isinstance(value, np.ndarray | float):
                rounded = round_significant(np.asarray(value, dtype=float))
                setattr(fitted, name, rounded if isinstance(value, np.ndarray) else float(rounded))
            else:
                canonical_parameters(value, seen)
    return fitted


def save_fitted(
    directory: Path, pipeline: Any, baseline: Any, card: ModelCard, lookups: dict | None = None
) -> None:
    """The train stage's part: fitted pipeline, baseline, model card and the joined tables'
    lookups (not yet sealed).

    Each file replaces the old one only once it is completely written (dvc.yaml keeps these
    outputs in place during a run), so a failed or interrupted run leaves the last bundle.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, fitted in ((MODEL_FILE, pipeline), (BASELINE_FILE, baseline)):
        with atomic_path(directory / name) as temporary:
            joblib.dump(canonical_parameters(fitted), temporary)
    write_json(directory / CARD_FILE, card.to_record())
    write_json(directory / LOOKUPS_FILE, lookups or {})


def seal_bundle(directory: Path, grading_record: dict) -> dict[str, str]:
    """The grade stage's part: write the grading and the manifest of all bundle files."""
    write_json(directory / GRADING_FILE, grading_record)
    return write_manifest(directory, list(BUNDLE_FILES))


def save_bundle(
    directory: Path, pipeline: Any, baseline: Any, card: ModelCard, grading_record: dict
) -> dict[str, str]:
    """Write a complete, sealed bundle; returns the manifest."""
    save_fitted(directory, pipeline, baseline, card)
    return seal_bundle(directory, grading_record)


def read_fitted(directory: Path) -> tuple[Any, ModelCard]:
    """The unsealed pipeline and card, for the grade stage (before the manifest exists)."""
    for name in (MODEL_FILE, CARD_FILE):
        if not (directory / name).is_file():
            raise BundleError(f"{directory / name} not found (run `dvc repro train`)")
    return joblib.load(directory / MODEL_FILE), ModelCard.read(directory / CARD_FILE)


def verified_manifest(
    directory: Path, key: Ed25519PublicKey | None = None, manifest_sha256: str | None = None
) -> dict[str, str]:
    """The manifest, after its signature is checked with the bundle public key (`key`, else
    the configured one); raise if it fails.

    `manifest_sha256`: the digest of a manifest already authenticated elsewhere (a Spark
    driver checked the signature and ships this digest to its executors) instead of the key.
    """
    manifest_path, signature_path = directory / MANIFEST_FILE, directory / SIGNATURE_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path} not found: not a model bundle (run `dvc repro train`)")
    if manifest_sha256 is not None:
        data = manifest_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest_sha256:
            raise BundleError(f"{manifest_path} is not the manifest that was authenticated")
        return parse_manifest(manifest_path, data)
    if not signature_path.is_file():
        raise BundleError(
            f"{signature_path} not found: the bundle is not signed; refusing to load it "
            "(seal it again with `dvc repro -f grade`)"
        )
    data = manifest_path.read_bytes()
    try:
        record = json.loads(signature_path.read_bytes())
        problem = signature_problem(data, record, key or verify_key())
    except (json.JSONDecodeError, AttributeError):
        problem = f"{signature_path} is not a signature record"
    except BundleKeyError as error:
        raise BundleError(str(error)) from None
    if problem:
        raise BundleError(
            f"{manifest_path}: {problem}; refusing to load a bundle that was not sealed with "
            "the private key of the configured bundle public key (LEADSCORE_BUNDLE_PUBLIC_KEY)"
        )
    return parse_manifest(manifest_path, data)


def parse_manifest(manifest_path: Path, data: bytes) -> dict[str, str]:
    try:
        manifest = json.loads(data)
    except json.JSONDecodeError as error:
        raise BundleError(f"{manifest_path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path} is not a manifest")
    return manifest


def read_verified(
    directory: Path,
    names: tuple[str, ...] = BUNDLE_FILES,
    key: Ed25519PublicKey | None = None,
    manifest_sha256: str | None = None,
) -> dict[str, bytes]:
    """The bytes of `names`, each read once and checked against the signed manifest.

    Callers parse and unpickle these bytes, never the files again: what was checked is what
    is loaded.
    """
    manifest = verified_manifest(directory, key, manifest_sha256)
    missing = [name for name in names if name not in manifest]
    if missing:
        raise BundleError(f"{directory} manifest does not cover {missing}: an incomplete bundle")
    files = {}
    for name in names:
        path = directory / name
        if not path.is_file():
            raise BundleError(f"bundle file {path} is missing")
        data = path.read_bytes()
        actual, expected = hashlib.sha256(data).hexdigest(), manifest[name]
        if actual != expected:
            raise BundleError(
                f"bundle file {path} does not match its manifest (sha256 {actual[:12]}... != "
                f"{expected[:12]}...): refusing to load a tampered or truncated model"
            )
        files[name] = data
    return files


def verify_bundle(directory: Path) -> dict[str, str]:
    """Check the signature and every file of the manifest; raise on any mismatch."""
    manifest = verified_manifest(directory)
    read_verified(directory, tuple(manifest))
    return manifest


def load_bundle(directory: Path | str, manifest_sha256: str | None = None) -> ModelBundle:
    """Verify and load the bundle's pipeline, model card and grading (see `verified_manifest`
    for `manifest_sha256`)."""
    directory = Path(directory)
    names = (MODEL_FILE, CARD_FILE, GRADING_FILE, LOOKUPS_FILE)
    files = read_verified(directory, names, None, manifest_sha256)
    card = ModelCard.from_json(files[CARD_FILE], str(directory / CARD_FILE))
    grading_record = json.loads(files[GRADING_FILE])
    if grading_record.get("model_version") != card.model_version:
        raise BundleError(
            f"{directory / GRADING_FILE} was derived for model "
            f"{grading_record.get('model_version')}, not {card.model_version}"
        )
    pipeline = joblib.load(io.BytesIO(files[MODEL_FILE]))
    lookups = json.loads(files[LOOKUPS_FILE])
    return ModelBundle(pipeline, card, grading_record, directory, lookups)


def load_baseline(directory: Path | str) -> Any:
    files = read_verified(Path(directory), (BASELINE_FILE,))
    return joblib.load(io.BytesIO(files[BASELINE_FILE]))


BUNDLE_ARTIFACT_PATH = "bundle"
