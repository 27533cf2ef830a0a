"""The model bundle: fitted pipeline, baseline, model card and grading, with a SHA-256 manifest.

`models/` holds exactly one bundle. The train stage writes the fitted files and the card; the
grade stage adds the grading (thresholds derived from the contract) and seals the bundle: every
file is hashed into `manifest.json`, and checked before loading, so a tampered or truncated file
is refused instead of served.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from leadscore.core.io import atomic_path
from leadscore.model.grading import Grading

MODEL_FILE = "model.joblib"
BASELINE_FILE = "baseline.joblib"
CARD_FILE = "model_card.json"
GRADING_FILE = "grading.json"
MANIFEST_FILE = "manifest.json"
BUNDLE_FILES = (MODEL_FILE, BASELINE_FILE, CARD_FILE, GRADING_FILE)


class BundleError(RuntimeError):
    """The bundle is missing, incomplete, or does not match its manifest."""


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle. `grading_record` is `grading.json`: thresholds, score edges, contract."""

    pipeline: Any
    card: dict
    grading_record: dict
    path: Path

    @property
    def version(self) -> str:
        return str(self.card["model_version"])

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


def write_manifest(directory: Path, names: list[str]) -> dict[str, str]:
    manifest = {name: sha256_of(directory / name) for name in sorted(names)}
    write_json_file(directory / MANIFEST_FILE, manifest)
    return manifest


def write_json_file(path: Path, data: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def save_fitted(directory: Path, pipeline: Any, baseline: Any, card: dict) -> None:
    """The train stage's part: fitted pipeline, baseline and model card (not yet sealed).

    Each file replaces the old one only once it is completely written (dvc.yaml keeps these
    outputs in place during a run), so a failed or interrupted run leaves the last bundle.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, fitted in ((MODEL_FILE, pipeline), (BASELINE_FILE, baseline)):
        with atomic_path(directory / name) as temporary:
            joblib.dump(fitted, temporary)
    write_json_file(directory / CARD_FILE, card)


def seal_bundle(directory: Path, grading_record: dict) -> dict[str, str]:
    """The grade stage's part: write the grading and the manifest of all bundle files."""
    write_json_file(directory / GRADING_FILE, grading_record)
    return write_manifest(directory, list(BUNDLE_FILES))


def save_bundle(
    directory: Path, pipeline: Any, baseline: Any, card: dict, grading_record: dict
) -> dict[str, str]:
    """Write a complete, sealed bundle; returns the manifest."""
    save_fitted(directory, pipeline, baseline, card)
    return seal_bundle(directory, grading_record)


def read_fitted(directory: Path) -> tuple[Any, dict]:
    """The unsealed pipeline and card, for the grade stage (before the manifest exists)."""
    for name in (MODEL_FILE, CARD_FILE):
        if not (directory / name).is_file():
            raise BundleError(f"{directory / name} not found (run `dvc repro train`)")
    return joblib.load(directory / MODEL_FILE), json.loads((directory / CARD_FILE).read_text())


def verify_bundle(directory: Path) -> dict[str, str]:
    """Check every file listed in the manifest against its SHA-256; raise on any mismatch."""
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path} not found: not a model bundle (run `dvc repro train`)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise BundleError(f"{manifest_path} is not valid JSON: {error}") from None
    for name, expected in manifest.items():
        path = directory / name
        if not path.is_file():
            raise BundleError(f"bundle file {path} is missing")
        actual = sha256_of(path)
        if actual != expected:
            raise BundleError(
                f"bundle file {path} does not match its manifest (sha256 {actual[:12]}... != "
                f"{expected[:12]}...): refusing to load a tampered or truncated model"
            )
    return manifest


def load_bundle(directory: Path | str) -> ModelBundle:
    """Verify and load the bundle's pipeline, model card and grading."""
    directory = Path(directory)
    manifest = verify_bundle(directory)
    missing = [name for name in BUNDLE_FILES if name not in manifest]
    if missing:
        raise BundleError(f"{directory} manifest does not cover {missing}: an incomplete bundle")
    card = json.loads((directory / CARD_FILE).read_text())
    grading_record = json.loads((directory / GRADING_FILE).read_text())
    if grading_record.get("model_version") != card["model_version"]:
        raise BundleError(
            f"{directory / GRADING_FILE} was derived for model "
            f"{grading_record.get('model_version')}, not {card['model_version']}"
        )
    pipeline = joblib.load(directory / MODEL_FILE)
    return ModelBundle(pipeline=pipeline, card=card, grading_record=grading_record, path=directory)


def load_baseline(directory: Path | str) -> Any:
    directory = Path(directory)
    verify_bundle(directory)
    return joblib.load(directory / BASELINE_FILE)


BUNDLE_ARTIFACT_PATH = "bundle"
