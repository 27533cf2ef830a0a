"""The model bundle: the fitted pipeline, the baseline and the model card, with a SHA-256 manifest.

`models/` holds exactly one bundle. Every file is hashed into `manifest.json` when saved and
checked before loading, so a tampered or truncated file is refused instead of served.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

MODEL_FILE = "model.joblib"
BASELINE_FILE = "baseline.joblib"
CARD_FILE = "model_card.json"
MANIFEST_FILE = "manifest.json"


class BundleError(RuntimeError):
    """The bundle is missing, incomplete, or does not match its manifest."""


@dataclass(frozen=True)
class ModelBundle:
    pipeline: Any
    card: dict
    path: Path

    @property
    def version(self) -> str:
        return str(self.card["model_version"])

    @property
    def contract_version(self) -> str:
        return str(self.card["contract"]["version"])


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path, names: list[str]) -> dict[str, str]:
    manifest = {name: sha256_of(directory / name) for name in sorted(names)}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def save_bundle(directory: Path, pipeline: Any, baseline: Any, card: dict) -> dict[str, str]:
    """Write the bundle files and their manifest; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, directory / MODEL_FILE)
    joblib.dump(baseline, directory / BASELINE_FILE)
    (directory / CARD_FILE).write_text(
        json.dumps(card, indent=2, sort_keys=True, default=str) + "\n"
    )
    return write_manifest(directory, [MODEL_FILE, BASELINE_FILE, CARD_FILE])


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
    """Verify and load the bundle's pipeline and model card."""
    directory = Path(directory)
    verify_bundle(directory)
    card = json.loads((directory / CARD_FILE).read_text())
    pipeline = joblib.load(directory / MODEL_FILE)
    return ModelBundle(pipeline=pipeline, card=card, path=directory)


def load_baseline(directory: Path | str) -> Any:
    directory = Path(directory)
    verify_bundle(directory)
    return joblib.load(directory / BASELINE_FILE)
