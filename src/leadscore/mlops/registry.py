"""The MLflow model registry: where a served model can come from besides `models/`.

`models:/<name>@<alias>` (e.g. `models:/leadscore@champion`) or `models:/<name>/<version>`
resolves to the registered version's training run, whose `bundle/` artifacts are the sealed
bundle the grade stage logged. It is downloaded and then verified like any other bundle.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from leadscore.model.bundle import BundleError
from leadscore.scoring.loading import fetched_bundle

# --- champion / challenger -------------------------------------------------------------------

HISTORY_TAG = "champion.history"  # on the registered model: earlier champions, oldest first


def judge(uri: str, test: pd.DataFrame, contract) -> dict:
    """A registered version on the given test leads: AUC and the contract's publish gate."""
    from leadscore.analysis.evaluate import quality_metrics
    from leadscore.core import fields
    from leadscore.model.bundle import load_bundle
    from leadscore.scoring.scorer import Scorer
    from leadscore.views.contract import contract_report

    with fetched_bundle(uri) as (path, facts):
        bundle = load_bundle(path)
    scorer = Scorer.from_bundle(bundle)
    matrix, _, _ = scorer.encode_frame(test)
    scored = scorer.score(matrix)
    y = test[fields.CONVERTED].to_numpy(int)
    metrics = quality_metrics(y, scored.probability, 10, 0.1)
    frame = test.assign(probability=scored.probability, score=scored.score, grade=scored.grade)
    gate = contract_report(frame, contract, bundle.grading_record, metrics)["publish_gate"]
    gate = with_recorded_review(gate, facts)
    return {**facts, "model_version": bundle.version, "roc_auc": metrics["roc_auc"], "gate": gate}


REVIEW_TAG = "publish_gate.fields_under_review"


def with_recorded_review(gate: dict, facts: dict) -> dict:
    """The gate plus the leakage-review sign-off the contract stage tagged on the version.

    The review rests on the ingest evidence, which a registered bundle does not carry, so a
    version the contract stage found with unsigned fields under review stays unpublishable.
    """
    from mlflow import MlflowClient

    tag = MlflowClient().get_model_version(facts["name"], facts["version"]).tags.get(REVIEW_TAG)
    if tag is None:
        return gate
    passed = tag.startswith("pass")
    recorded = {
        "required": [],
        "actual": tag.split(": ", 1)[-1],
        "passed": passed,
        "why": "inputs under leakage review without the contract's sign-off (contract stage)",
        "explanation": "",
    }
    checks = {**gate["checks"], "fields_under_review": recorded}
    return {"publishable": gate["publishable"] and passed, "checks": checks}


def promote(params, test: pd.DataFrame, version: str | None = None) -> dict:
    """Move `champion` to the challenger (or `version`) if it passes the gate and is not worse.

    "Not worse": its test AUC is at most `promotion.max_auc_drop` below the current champion's,
    on the same test leads. The decision and the numbers are tagged on the challenger version.
    """
    import mlflow
    from mlflow import MlflowClient

    from leadscore.core.config import tracking_uri
    from leadscore.mlops.tracking import CHALLENGER, CHAMPION

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
        checks = challenger["gate"]["checks"]
        failed = [k for k, c in checks.items() if not c["passed"]]
        reasons.append(f"fails the contract's publish gate ({', '.join(failed)})")
        if "agreement" in failed:  # say whose approval is missing, in the report's words
            reasons.append(checks["agreement"]["explanation"])
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

    from leadscore.core.config import tracking_uri
    from leadscore.mlops.tracking import CHAMPION

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
