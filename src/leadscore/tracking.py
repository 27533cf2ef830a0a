"""MLflow tracking: one run per training, the model registered as a new version.

The tracking URI defaults to `sqlite:///mlflow.db` in the working directory (the project root
when run by DVC or make) and is overridden by the `MLFLOW_TRACKING_URI` environment variable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from leadscore.config import Params
from leadscore.features import FeatureSpec

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
BUNDLE_ARTIFACT_PATH = "bundle"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def use_tracking(experiment: str) -> str:
    """Point MLflow at the configured store and experiment; returns the experiment id."""
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.set_experiment(experiment).experiment_id


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested params as dotted keys, the way `params.yaml` names them."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return flat
    if isinstance(value, list | tuple):
        return {prefix: ",".join(map(str, value))}
    return {prefix: value}


def model_input_example(frame: pd.DataFrame) -> pd.DataFrame:
    """An input example in plain dtypes MLflow's schema understands (floats, strings)."""
    example = frame.copy()
    for column in example.columns:
        if pd.api.types.is_bool_dtype(example[column]) or pd.api.types.is_numeric_dtype(
            example[column]
        ):
            example[column] = example[column].astype("float64")
        else:
            example[column] = example[column].astype(object)
    return example


def log_training_run(params: Params, pipeline: Any, card: dict, example: pd.DataFrame) -> dict:
    """Log params, training metrics and the model; register it as a new model version."""
    use_tracking(params.mlflow.experiment)
    example = model_input_example(example)
    signature = infer_signature(example, pipeline.predict_proba(example))
    with mlflow.start_run(run_name=card["model_version"]) as run:
        mlflow.log_params(flatten("train", params.train.model_dump()))
        mlflow.log_params(
            {
                "contract.outcome.window_days": params.contract.outcome.window_days,
                "contract.excluded_fields": ",".join(params.contract.excluded_fields),
                "features": ",".join(FeatureSpec.from_dict(card["features"]).fields),
                "training_data.sha256": card["training_data"]["sha256"],
            }
        )
        mlflow.log_metrics({k: float(v) for k, v in card["metrics"].items()})
        mlflow.set_tags({"model_version": card["model_version"]})
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="cloudpickle",
            pyfunc_predict_fn="predict_proba",
            registered_model_name=params.mlflow.registered_model,
        )
    version = getattr(info, "registered_model_version", None)
    log.info(
        "mlflow: run %s, registered %s v%s",
        run.info.run_id,
        params.mlflow.registered_model,
        version,
    )
    return {
        "tracking_uri": tracking_uri(),
        "experiment_id": run.info.experiment_id,
        "run_id": run.info.run_id,
        "registered_model": params.mlflow.registered_model,
        "registered_version": None if version is None else str(version),
    }


def log_evaluation(run_id: str, metrics: dict[str, float], artifacts: list[Path]) -> None:
    """Add test-period metrics and plot files to the training run."""
    mlflow.set_tracking_uri(tracking_uri())
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test.{k}": float(v) for k, v in metrics.items()})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="evaluation")


def log_grading(run_id: str, grading_record: dict, model_dir: Path) -> None:
    """Attach the sealed bundle to the training run and tag the contract it encodes.

    With the bundle (pipeline, card, grading and the SHA-256 manifest) under `bundle/`, a
    registered version (`models:/<name>@champion`) carries everything the scorer needs, and the
    service verifies it exactly as it verifies `models/`.
    """
    from leadscore.bundle import BUNDLE_FILES, MANIFEST_FILE

    mlflow.set_tracking_uri(tracking_uri())
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags(
            {
                "contract.version": grading_record["contract"]["version"],
                **{
                    f"grade.{name}.threshold": round(value, 6)
                    for name, value in grading_record["thresholds"].items()
                },
            }
        )
        for name in (*BUNDLE_FILES, MANIFEST_FILE):
            mlflow.log_artifact(str(model_dir / name), artifact_path=BUNDLE_ARTIFACT_PATH)
