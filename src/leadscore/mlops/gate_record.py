"""The contract's publish gate and the evaluate stage's figures on a training run: the gate's
record (`publish_gate.json`, what `leadscore promote` reads back), its tags for people in the
MLflow UI, and the `test.<name>` metrics."""

from __future__ import annotations

import logging
from typing import Any

import mlflow

from leadscore.core.config import tracking_uri
from leadscore.core.contract_report import GateResult
from leadscore.core.redact import redact_mapping
from leadscore.mlops.tracking import CHAMPION

log = logging.getLogger(__name__)

GATE_RECORD = "publish_gate.json"  # the contract stage's GateResult, on the training run


def gate_tags(gate: GateResult) -> dict[str, str]:
    """The gate for people in the MLflow UI: publishable, and each check passed or FAIL with
    its figure. Nothing reads them back: `recorded_gate` reads the record."""
    tags = {"publish_gate.publishable": str(gate.publishable).lower()}
    for name, check in gate.checks.items():
        tags[f"publish_gate.{name}"] = f"{'pass' if check.passed else 'FAIL'}: {check.actual}"
    return tags


def log_publish_gate(run: dict, gate: GateResult) -> None:
    """The contract's publish gate on the training run: the record (`publish_gate.json`, what
    `leadscore promote` reads) and its tags on the run and its registered version."""
    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    client.log_dict(run["run_id"], gate.model_dump(mode="json"), GATE_RECORD)
    if gate.publishable and run.get("registered_version"):
        crown_first_publishable(client, run["registered_model"], run["registered_version"])
    for key, value in redact_mapping(gate_tags(gate)).items():
        client.set_tag(run["run_id"], key, value)
        if run.get("registered_version"):
            client.set_model_version_tag(
                run["registered_model"], run["registered_version"], key, value
            )


def recorded_gate(run_id: str) -> GateResult | None:
    """The publish gate the contract stage recorded on a training run (None: none recorded)."""
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    if GATE_RECORD not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    try:
        record = mlflow.artifacts.load_dict(f"runs:/{run_id}/{GATE_RECORD}")
    except MlflowException:
        return None
    return GateResult.model_validate(record)


def crown_first_publishable(client: Any, name: str, version: str) -> bool:
    """The first publishable version becomes `champion` (later ones stay `challenger` until
    `leadscore promote`), so `models:/<name>@champion` serves right after the first run."""
    if CHAMPION in client.get_registered_model(name).aliases:
        return False
    client.set_registered_model_alias(name, CHAMPION, version)
    log.info("mlflow: %s v%s is the first publishable version: alias %s", name, version, CHAMPION)
    return True
