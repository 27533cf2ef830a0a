"""The MLflow model registry: where a served model can come from besides `models/`.

`models:/<name>@<alias>` (e.g. `models:/leadscore@champion`) or `models:/<name>/<version>`
resolves to the registered version's training run, whose `bundle/` artifacts are the sealed
bundle the grade stage logged. It is downloaded and then verified like any other bundle.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from leadscore.bundle import BundleError

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def is_registry_uri(uri: str) -> bool:
    return uri.startswith("models:/")


@contextlib.contextmanager
def fetched_bundle(uri: str, only: str | None = None) -> Iterator[tuple[Path, dict]]:
    """Download a registered version's bundle (or just its file `only`) into a temporary
    directory; yields that directory and the version's facts, and removes it afterwards."""
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
    artifact = BUNDLE_ARTIFACT_PATH if only is None else f"{BUNDLE_ARTIFACT_PATH}/{only}"
    with tempfile.TemporaryDirectory(prefix="leadscore-bundle-") as target:
        try:
            if match["alias"]:
                version = client.get_model_version_by_alias(name, match["alias"])
            else:
                version = client.get_model_version(name, match["version"])
            local = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=artifact, dst_path=target
            )
        except MlflowException as error:
            message = f"cannot fetch {uri} from {tracking_uri()}: {error.message}"
            raise BundleError(message) from None
        facts = {
            "name": name,
            "version": str(version.version),
            "run_id": version.run_id,
            "uri": uri,
        }
        yield Path(local) if only is None else Path(local).parent, facts


# --- champion / challenger -------------------------------------------------------------------

HISTORY_TAG = "champion.history"  # on the registered model: earlier champions, oldest first


def judge(uri: str, test: pd.DataFrame, contract) -> dict:
    """A registered version on the given test leads: AUC and the contract's publish gate."""
    from leadscore import fields
    from leadscore.bundle import load_bundle
    from leadscore.contract import contract_report
    from leadscore.evaluate import quality_metrics
    from leadscore.scoring import Scorer

    with fetched_bundle(uri) as (path, facts):
        bundle = load_bundle(path)
    scorer = Scorer.from_bundle(bundle)
    matrix, _, _ = scorer.encode_frame(test)
    scored = scorer.score(matrix)
    y = test[fields.CONVERTED].to_numpy(int)
    metrics = quality_metrics(y, scored.probability, 10, 0.1)
    frame = test.assign(probability=scored.probability, score=scored.score, grade=scored.grade)
    gate = contract_report(frame, contract, bundle.grading_record, metrics)["publish_gate"]
    return {**facts, "model_version": bundle.version, "roc_auc": metrics["roc_auc"], "gate": gate}


def promote(params, test: pd.DataFrame, version: str | None = None) -> dict:
    """Move `champion` to the challenger (or `version`) if it passes the gate and is not worse.

    "Not worse": its test AUC is at most `promotion.max_auc_drop` below the current champion's,
    on the same test leads. The decision and the numbers are tagged on the challenger version.
    """
    import mlflow
    from mlflow import MlflowClient

    from leadscore.tracking import CHALLENGER, CHAMPION, tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    name = params.mlflow.registered_model
    target = version or client.get_model_version_by_alias(name, CHALLENGER).version
    challenger = judge(f"models:/{name}/{target}", test, params.contract)
    champion_version = _alias_version(client, name, CHAMPION)
    champion = None
    if champion_version is not None and champion_version != str(target):
        champion = judge(f"models:/{name}/{champion_version}", test, params.contract)
    reasons = []
    if not challenger["gate"]["publishable"]:
        failed = [k for k, c in challenger["gate"]["checks"].items() if not c["passed"]]
        reasons.append(f"fails the contract's publish gate ({', '.join(failed)})")
    limit = params.promotion.max_auc_drop
    if champion is not None and challenger["roc_auc"] < champion["roc_auc"] - limit:
        reasons.append(
            f"test AUC {challenger['roc_auc']:.4f} is more than {limit} below champion "
            f"v{champion_version}'s {champion['roc_auc']:.4f} on the same {len(test):,} leads"
        )
    decision = {
        "version": str(target),
        "promoted": not reasons,
        "reasons": reasons,
        "challenger_auc": challenger["roc_auc"],
        "champion_version": champion_version,
        "champion_auc": None if champion is None else champion["roc_auc"],
        "test_leads": len(test),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for key, value in decision.items():
        client.set_model_version_tag(name, str(target), f"promotion.{key}", str(value))
    if decision["promoted"] and champion_version != str(target):
        history = _history(client, name)
        if champion_version is not None:
            history.append(champion_version)
        client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
        client.set_registered_model_alias(name, CHAMPION, str(target))
    return decision


def rollback(params) -> dict:
    """Move `champion` back to the previous champion."""
    import mlflow
    from mlflow import MlflowClient

    from leadscore.tracking import CHAMPION, tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    name = params.mlflow.registered_model
    history = _history(client, name)
    if not history:
        raise BundleError(f"no earlier champion of {name} to roll back to")
    current = _alias_version(client, name, CHAMPION)
    previous = history.pop()
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    if current is not None:
        client.set_model_version_tag(name, current, "rollback.at", stamp)
    return {"champion": previous, "was": current, "at": stamp}


def _alias_version(client, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _history(client, name: str) -> list[str]:
    tag = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    return [v for v in tag.split(",") if v]
