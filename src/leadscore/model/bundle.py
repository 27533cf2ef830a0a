"""The model bundle: fitted pipeline, baseline, model card and grading, sealed and signed.

`models/` holds exactly one bundle. The train stage writes the fitted files and the card; the
grade stage adds the grading (thresholds derived from the contract) and seals the bundle: every
file is hashed into `manifest.json`, and the manifest is signed with the sealing host's Ed25519
private key (`manifest.sig`, see `leadscore.model.signing`). Loading checks the signature with
the public key first, then reads each file once, checks those bytes against the manifest and
loads from the same bytes, so nothing is unpickled that the key holder did not seal, and a
tampered or truncated file is refused instead of served.

What DVC tracks is the same on every machine (`dvc.lock` commits its hashes): the fitted files,
the card without the run's facts, the grading. What belongs to one run or one machine is not a
DVC output, so `dvc checkout` never deletes it and a fresh clone's `make run` changes no hash:
`training_run.json` (when and how fast the model was trained, its MLflow run; sealed with the
bundle when it describes this model) and the seal, `manifest.json` and `manifest.sig` (made
with this machine's key). A bundle whose files changed since it was sealed (`dvc checkout` of
another version) is refused until the key holder seals it again: `leadscore seal`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leadscore.core.card import ModelCard, RunRecord
from leadscore.core.errors import LeadscoreError
from leadscore.core.io import atomic_path, write_json
from leadscore.core.records import GradingRecord, RecordError
from leadscore.data.inputs import LOOKUPS_FILE
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
RUN_FILE = "training_run.json"  # the run's facts (`RunRecord`); sealed when of this model
# lookups.json: the joined tables' fields the model reads, looked up by key at scoring
# (leadscore.data.inputs); `{}` for an export without joined tables
BUNDLE_FILES = (MODEL_FILE, BASELINE_FILE, CARD_FILE, GRADING_FILE, LOOKUPS_FILE)
SEAL = "seal it with `leadscore seal` on the host that holds the bundle signing key"

log = logging.getLogger(__name__)


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
    write_json(directory / CARD_FILE, card.model_record())
    write_json(directory / LOOKUPS_FILE, lookups or {})
    record = RunRecord(model_sha256=sha256_of(directory / MODEL_FILE), card=card.run_facts())
    write_json(directory / RUN_FILE, record.model_dump())
    reseal_new_run(directory)


def run_record(directory: Path, data: bytes | None = None) -> RunRecord | None:
    """`training_run.json` (these bytes, else the file) when it describes the bundle's
    `model.joblib`; None when there is none or it is of another model."""
    path = directory / RUN_FILE
    if data is None and not path.is_file():
        return None
    try:
        record = RunRecord.model_validate_json(data if data is not None else path.read_bytes())
    except ValueError:
        log.warning("%s is not a training run record: left out of the bundle", path)
        return None
    model = directory / MODEL_FILE
    if not model.is_file() or record.model_sha256 != sha256_of(model):
        log.warning("%s is of another model: its run's facts are left out", path)
        return None
    return record


def sealed_names(directory: Path) -> list[str]:
    """The files a seal covers: the bundle's, and the run record when it is of this model."""
    missing = [name for name in BUNDLE_FILES if not (directory / name).is_file()]
    if missing:
        raise BundleError(
            f"{directory} lacks {missing}: nothing to seal (`dvc repro` makes the bundle, "
            "`dvc checkout` restores a version's files)"
        )
    return [*BUNDLE_FILES, *([RUN_FILE] if run_record(directory) else [])]


def seal_bundle(directory: Path, grading_record: dict) -> dict[str, str]:
    """The grade stage's part: write the grading and the manifest of all bundle files."""
    write_json(directory / GRADING_FILE, grading_record)
    return seal(directory)


def seal(directory: Path) -> dict[str, str]:
    """Seal the bundle as its files are now (`leadscore seal`): hash them into the manifest and
    sign it with this host's key."""
    return write_manifest(directory, sealed_names(directory))


def reseal_new_run(directory: Path) -> None:
    """After a re-train that wrote the same model, card and lookups byte for byte (the grade
    stage then does not run), seal the new run record with the bundle it describes; any
    other change leaves the bundle unsealed until the grade stage seals it."""
    try:
        manifest = verified_manifest(directory)
    except BundleError:
        return
    fitted = [name for name in manifest if name != RUN_FILE]
    if set(BUNDLE_FILES) <= set(fitted) and all(
        (directory / name).is_file() and sha256_of(directory / name) == manifest[name]
        for name in fitted
    ):
        write_manifest(directory, sealed_names(directory))


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
    return joblib.load(directory / MODEL_FILE), read_card(directory / CARD_FILE)


def read_card(path: Path) -> ModelCard:
    """The card at `path`, with its run's facts when `training_run.json` beside it is of the
    same model (the stages that log to the training run read it this way)."""
    card = ModelCard.read(path)
    record = run_record(path.parent)
    return card if record is None else card.with_run_facts(record.card)


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
        raise BundleError(
            f"{manifest_path} not found: not a model bundle, or not sealed; refusing to load it "
            f"(`dvc repro` makes and seals it; for files `dvc checkout` restored, {SEAL})"
        )
    if manifest_sha256 is not None:
        data = manifest_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest_sha256:
            raise BundleError(f"{manifest_path} is not the manifest that was authenticated")
        return parse_manifest(manifest_path, data)
    if not signature_path.is_file():
        raise BundleError(
            f"{signature_path} not found: the bundle is not signed; refusing to load it ({SEAL})"
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
            "the private key of the configured bundle public key (LEADSCORE_BUNDLE_PUBLIC_KEY); "
            f"to serve these files, {SEAL}"
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
    return read_checked(directory, verified_manifest(directory, key, manifest_sha256), names)


def read_checked(
    directory: Path, manifest: dict[str, str], names: tuple[str, ...]
) -> dict[str, bytes]:
    """The bytes of `names`, checked against an authenticated `manifest`."""
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
                f"{expected[:12]}...): refusing to load a tampered or truncated model (if you "
                f"changed it yourself, with `dvc checkout` or a re-train, {SEAL})"
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
    manifest = verified_manifest(directory, None, manifest_sha256)
    names = (MODEL_FILE, CARD_FILE, GRADING_FILE, LOOKUPS_FILE)
    files = read_checked(directory, manifest, names + ((RUN_FILE,) if RUN_FILE in manifest else ()))
    card = ModelCard.from_json(files[CARD_FILE], str(directory / CARD_FILE))
    if RUN_FILE in files:
        record = RunRecord.model_validate_json(files[RUN_FILE])
        if record.model_sha256 == manifest[MODEL_FILE]:
            card = card.with_run_facts(record.card)
    try:
        grading = GradingRecord.from_record(json.loads(files[GRADING_FILE]), GRADING_FILE)
    except (RecordError, json.JSONDecodeError) as error:
        raise BundleError(f"{directory}: {error}") from None
    if grading.model_version != card.model_version:
        raise BundleError(
            f"{directory / GRADING_FILE} was derived for model "
            f"{grading.model_version}, not {card.model_version}"
        )
    grading_record = grading.to_record()
    pipeline = joblib.load(io.BytesIO(files[MODEL_FILE]))
    lookups = json.loads(files[LOOKUPS_FILE])
    return ModelBundle(pipeline, card, grading_record, directory, lookups)


def load_baseline(directory: Path | str) -> Any:
    files = read_verified(Path(directory), (BASELINE_FILE,))
    return joblib.load(io.BytesIO(files[BASELINE_FILE]))


BUNDLE_ARTIFACT_PATH = "bundle"
