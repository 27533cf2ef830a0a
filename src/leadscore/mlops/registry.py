"""The MLflow model registry: where a served model can come from besides `models/`.

`models:/<name>@<alias>` (e.g. `models:/leadscore@champion`) or `models:/<name>/<version>`
resolves to the registered version's training run, whose `bundle/` artifacts are the sealed
bundle the grade stage logged. It is downloaded and then verified like any other bundle.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from leadscore.core.config import Params
from leadscore.core.contract_report import GateResult
from leadscore.core.errors import LeadscoreError
from leadscore.model.bundle import BundleError
from leadscore.scoring.loading import fetched_bundle

# --- champion / challenger -------------------------------------------------------------------

HISTORY_TAG = "champion.history"  # on the registered model: earlier champions, oldest first


def judge(uri: str, test: pd.DataFrame, params: Params) -> dict:
    """A registered version on the given test leads: AUC and the contract's publish gate.

    The gate is `leadscore.model.gate`'s, with the evaluate stage's figures (its bins, top
    share and AUC bound: `analysis.evaluate.gate_metrics`), the test period's months for an
    undated export, and the leakage-review sign-off the contract stage recorded for the
    version: the review rests on the ingest evidence, which a registered bundle does not carry,
    so a version the contract stage found with unsigned fields under review stays unpublishable.
    """
    from leadscore.analysis.evaluate import gate_metrics
    from leadscore.core import fields
    from leadscore.mlops.gate_record import recorded_gate
    from leadscore.mlops.tracking import evaluated_metric
    from leadscore.model.bundle import load_bundle
    from leadscore.model.gate import REVIEW_CHECK, judge_leads, undated_months
    from leadscore.scoring.scorer import Scorer

    with fetched_bundle(uri) as (path, facts):
        bundle = load_bundle(path)
    run_id = str(facts["run_id"])
    scorer = Scorer.from_bundle(bundle)
    matrix, _, _ = scorer.encode_frame(test)
    scored = scorer.score(matrix)
    y = test[fields.CONVERTED].to_numpy(int)
    metrics = gate_metrics(
        y,
        scored.probability,
        params.evaluate,
        params.train.seed,
        evaluated_metric(run_id, "roc_auc_gate_low"),
    )
    if "roc_auc" not in metrics:
        raise LeadscoreError(f"the {len(test):,} test leads have only one outcome: nothing to rank")
    frame = test.assign(probability=scored.probability, score=scored.score, grade=scored.grade)
    months = undated_months(params, test)
    gate = judge_leads(frame, params.contract, bundle.grading_record, metrics, months)
    recorded = recorded_gate(run_id)
    if recorded is not None and REVIEW_CHECK in recorded.checks:
        gate = gate.with_check(REVIEW_CHECK, recorded.checks[REVIEW_CHECK])
    return {**facts, "model_version": bundle.version, "roc_auc": metrics["roc_auc"], "gate": gate}


def promote(params: Params, test: pd.DataFrame, version: str | None = None) -> dict:
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
    target = version or _alias_version(client, name, CHALLENGER)
    if target is None:
        raise BundleError(f"{name} has no @{CHALLENGER} version to promote (name one: --version)")
    challenger = judge(f"models:/{name}/{target}", test, params)
    champion_version = _alias_version(client, name, CHAMPION)
    champion = None
    if champion_version is not None and champion_version != str(target):
        champion = judge(f"models:/{name}/{champion_version}", test, params)
    reasons = []
    gate: GateResult = challenger["gate"]
    if not gate.publishable:
        failed = gate.failed()
        reasons.append(f"fails the contract's publish gate ({', '.join(failed)})")
        if "agreement" in failed:  # say whose approval is missing, in the report's words
            reasons.append(gate.checks["agreement"].explanation)
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
