"""The MLflow run a model was trained in: the later stages add what they find to it.

The train stage writes the run into its run record (`models/training_run.json`); reading the
bundle puts it back into the card (`mlflow`). The grade, evaluate, importance and contract
stages log to that run through `log_to_training_run` only. A model trained without
MLflow (no `mlflow` section, or no run id) logs nothing, and MLflow is not even imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from leadscore.core.card import ModelCard

RunLog = Literal["log_grading", "log_evaluation", "log_importance", "log_publish_gate"]


def training_run(card: ModelCard | None) -> dict[str, Any] | None:
    """The card's MLflow run (`run_id`, `registered_model`, ...), or None without one."""
    if card is None or card.mlflow is None or not card.mlflow.run_id:
        return None
    return card.mlflow.model_dump(exclude_unset=True)


def log_to_training_run(card: ModelCard | None, what: RunLog, *args: Any) -> bool:
    """Call the logger `what` (in `leadscore.mlops.tracking` or `.gate_record`) with the
    card's training run and `args`; False (and nothing logged) for a model trained without
    MLflow."""
    run = training_run(card)
    if run is None:
        return False
    from leadscore.mlops import gate_record, tracking

    loggers: dict[str, Callable[..., None]] = {
        "log_grading": tracking.log_grading,
        "log_evaluation": tracking.log_evaluation,
        "log_importance": tracking.log_importance,
        "log_publish_gate": gate_record.log_publish_gate,
    }
    loggers[what](run, *args)
    return True
