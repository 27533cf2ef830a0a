"""The MLflow model registry: where a served model can come from besides `models/`.

`models:/<name>@<alias>` (e.g. `models:/leadscore@champion`) or `models:/<name>/<version>`
resolves to the registered version's training run, whose `bundle/` artifacts are the sealed
bundle the grade stage logged. It is downloaded and then verified like any other bundle.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from leadscore.bundle import BundleError

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def is_registry_uri(uri: str) -> bool:
    return uri.startswith("models:/")


def fetch_bundle(uri: str, destination: Path | None = None) -> tuple[Path, dict]:
    """Download the bundle of a registered version; returns its directory and version facts."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from leadscore.tracking import BUNDLE_ARTIFACT_PATH, tracking_uri

    match = MODELS_URI.match(uri)
    if not match:
        raise BundleError(f"{uri!r} is not models:/<name>@<alias> or models:/<name>/<version>")
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    name = match["name"]
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(name, match["alias"])
        else:
            version = client.get_model_version(name, match["version"])
        target = destination or Path(tempfile.mkdtemp(prefix="leadscore-bundle-"))
        path = mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=BUNDLE_ARTIFACT_PATH, dst_path=str(target)
        )
    except MlflowException as error:
        raise BundleError(f"cannot fetch {uri} from {tracking_uri()}: {error.message}") from None
    facts = {"name": name, "version": str(version.version), "run_id": version.run_id, "uri": uri}
    return Path(path), facts
