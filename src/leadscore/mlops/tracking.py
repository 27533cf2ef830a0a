"""MLflow tracking: one run per training, the model registered as a new version.

The tracking URI defaults to `sqlite:///mlflow.db` in the working directory (the project root
when run by DVC or make) and is overridden by the `MLFLOW_TRACKING_URI` environment variable.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric
from mlflow.models import infer_signature

from leadscore.core.card import ModelCard
from leadscore.core.config import Params, tracking_uri
from leadscore.core.redact import redact, redact_mapping
from leadscore.mlops.lineage import (
    changed_params,
    describe_version,
    lineage,
    model_requirements,
    previous_params,
    run_description,
)
from leadscore.model.bundle import BUNDLE_ARTIFACT_PATH

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"


# MLflow 3's UI opens an experiment in the view its `mlflow.experimentKind` tag names (the
# experiment page's `useExperimentKind`); without it, it guesses from the runs and may land on
# the GenAI overview (traces, tokens). leadscore trains classic models.
EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


def use_tracking(experiment: str) -> str:
    """Point MLflow at the configured store and experiment (opening in the UI's model-training
    view); returns the experiment id."""
    mlflow.set_tracking_uri(tracking_uri())
    found = mlflow.set_experiment(experiment)
    if found.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING:
        mlflow.MlflowClient().set_experiment_tag(
            found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING
        )
    return found.experiment_id


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


def metric_key(*parts: str) -> str:
    """An MLflow metric name from parts (values like `5000+` become `5000_`)."""
    return ".".join(re.sub(r"[^A-Za-z0-9_\-. /]", "_", str(part)) for part in parts)


def model_digest(pipeline: Any) -> str:
    """SHA-256 of the pickled pipeline: the same bytes are the same model."""
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def registered_with_digest(name: str, digest: str) -> str | None:
    """The version of `name` already registered with this model digest, if any."""
    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return None
    same = [v.version for v in versions if v.tags.get(MODEL_DIGEST_TAG) == digest]
    return min(same, key=int) if same else None


MODEL_DIGEST_TAG = "model.sha256"


def schema_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows MLflow's schema inference needs to give the schema of the whole frame: the
    first present and the first missing value of each column (its type, and whether any value
    is missing). MLflow reads a text column value by value, a minute at a million leads; a
    column of arbitrary Python objects (several types in one column) is read in full."""
    if any(frame[name].dtype == object for name in frame.columns):
        return frame
    rows: set[int] = set()
    for name in frame.columns:
        missing = frame[name].isna().to_numpy()
        for where in (~missing, missing):
            if where.any():
                rows.add(int(where.argmax()))
    return frame.iloc[sorted(rows)]


def log_datasets(frames: dict[str, pd.DataFrame], digests: dict[str, str]) -> None:
    """Each data set as a run input (MLflow's Datasets), named, with its file digest and the
    schema of the whole frame (inferred on `schema_rows`)."""
    from mlflow.data.pandas_dataset import from_pandas

    from leadscore.core import fields

    for name, frame in frames.items():
        target = fields.CONVERTED if fields.CONVERTED in frame else None
        dataset = from_pandas(frame, name=name, targets=target, digest=digests.get(name))
        # `schema` is a cached property: filled here, MLflow never walks the whole frame
        dataset.__dict__["schema"] = infer_signature(schema_rows(frame)).inputs
        mlflow.log_input(dataset, context=name)


def log_training_run(
    params: Params,
    pipeline: Any,
    card: ModelCard,
    example: pd.DataFrame,
    datasets: dict[str, tuple[pd.DataFrame, str]] | None = None,
) -> dict[str, Any]:
    """Log params, training metrics, data sets and the model; register it as a new model
    version unless the same model (byte for byte) is registered already."""
    experiment_id = use_tracking(params.mlflow.experiment)
    example = model_input_example(example)
    signature = infer_signature(example, pipeline.predict_proba(example))
    name = params.mlflow.registered_model
    digest = model_digest(pipeline)
    existing = registered_with_digest(name, digest)
    flat_params = redact_mapping(flatten("train", params.train.model_dump()))
    before = previous_params(experiment_id)
    with mlflow.start_run(run_name=card.model_version) as run:
        mlflow.log_params(flat_params)
        mlflow.log_params(redact_mapping(contract_params(params, card)))
        changes = changed_params(before, flat_params) if before else None
        mlflow.set_tag("mlflow.note.content", run_description(params, card, changes))
        if datasets:
            log_datasets(
                {k: frame for k, (frame, _) in datasets.items()},
                {k: file_digest for k, (_, file_digest) in datasets.items()},
            )
        mlflow.log_metrics(card.metrics.figures())
        mlflow.set_tags(
            {"model_version": card.model_version, MODEL_DIGEST_TAG: digest, **choice_tags(card)}
        )
        log_candidates(card)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="cloudpickle",
            pip_requirements=model_requirements(),
            pyfunc_predict_fn="predict_proba",
            registered_model_name=None if existing else name,
        )
    version = existing or getattr(info, "registered_model_version", None)
    if existing:
        log.info("mlflow: the same model (sha256 %s) is version %s: not registered again",
                 digest[:12], existing)  # fmt: skip
    elif version is not None:
        describe_new_version(params, card, str(version), digest)
    log.info("mlflow: run %s, registered %s v%s", run.info.run_id, name, version)
    return {
        "tracking_uri": redact(tracking_uri()),  # the card is served: never a password
        "experiment_id": run.info.experiment_id,
        "run_id": run.info.run_id,
        "registered_model": name,
        "registered_version": None if version is None else str(version),
    }


def contract_params(params: Params, card: ModelCard) -> dict[str, Any]:
    """The contract's terms and the data the model was trained on, as run params."""
    return {
        "contract.outcome.window_days": params.contract.outcome.window_days,
        "contract.excluded_fields": ",".join(params.contract.excluded_fields),
        "features": ",".join(card.spec.fields),
        "training_data.sha256": card.training_data.sha256,
    }


def describe_new_version(params: Params, card: ModelCard, version: str, digest: str) -> None:
    """Tag a newly registered version with its lineage, describe it, and make it challenger."""
    name = params.mlflow.registered_model
    tags = {**redact_mapping(lineage(params, card)), MODEL_DIGEST_TAG: digest}
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=describe_version(tags, card))
    client.set_registered_model_alias(name, CHALLENGER, version)


def choice_tags(card: ModelCard) -> dict[str, str]:
    """What was chosen and why, as tags of the training run."""
    choice = card.model_choice
    if choice is None:
        return {}
    tags = {
        "model_family": choice.chosen.family,
        "model_choice.chosen": choice.chosen.name,
        "model_choice.reason": choice.reason,
    }
    if card.calibration is not None:
        tags["calibration.method"] = card.calibration.method
        tags["calibration.reason"] = card.calibration.reason
    return tags


def log_candidates(card: ModelCard) -> None:
    """Each candidate as a child run of the (active) training run: settings and validation
    figures, so analysts compare them side by side in the MLflow UI. Each child run's params,
    metrics and tags go to the store in one batch."""
    from mlflow.entities import Param, RunTag

    choice = card.model_choice
    if choice is None:
        return
    chosen = choice.chosen
    client = mlflow.MlflowClient()
    for record in choice.candidates:
        is_chosen = record.name == chosen.name and record.stage == chosen.stage
        params = {
            "family": record.family,
            "stage": record.stage,
            "training_rows": record.training_rows,
            **flatten("settings", record.settings),
        }
        metrics = {
            "valid_roc_auc": record.valid_roc_auc,
            "valid_log_loss": record.valid_log_loss,
            "fit_seconds": record.fit_seconds,
            **{
                metric_key("valid_roc_auc", month): auc
                for month, auc in record.valid_monthly_roc_auc.items()
            },
        }
        if record.iterations is not None:
            metrics["iterations"] = record.iterations
        tags = {
            "candidate.family": record.family,
            "candidate.chosen": str(is_chosen).lower(),
            "model_version": card.model_version,
        }
        with mlflow.start_run(run_name=record.name, nested=True) as run:
            stamp = int(run.info.start_time)
            client.log_batch(
                run.info.run_id,
                metrics=[
                    Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v is not None
                ],
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )


def log_evaluation(
    run: dict,
    metrics: dict[str, float],
    artifacts: list[Path],
    datasets: dict[str, tuple[pd.DataFrame, str]] | None = None,
) -> None:
    """Add test-period metrics, plot files and the test data set to the training run."""
    mlflow.set_tracking_uri(tracking_uri())
    with mlflow.start_run(run_id=run["run_id"]):
        log_evaluation_metrics(metrics)
        if datasets:
            log_datasets(
                {k: frame for k, (frame, _) in datasets.items()},
                {k: digest for k, (_, digest) in datasets.items()},
            )
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="evaluation")


def log_grading(run: dict, grading_record: dict, model_dir: Path) -> None:
    """Attach the sealed bundle to the training run and tag the contract it encodes.

    With the bundle (pipeline, card, grading, the training run's record, the SHA-256 manifest
    and its signature) under `bundle/`, a registered version (`models:/<name>@champion`)
    carries everything the scorer needs, and the service verifies it exactly as it verifies
    `models/` (same public key).
    """
    from leadscore.core.io import read_json
    from leadscore.model.bundle import MANIFEST_FILE, SIGNATURE_FILE

    mlflow.set_tracking_uri(tracking_uri())
    agreement = grading_record.get("agreement") or {}
    # the same words as every report: "agreed by ... on ..." or "PROPOSAL: not agreed"
    contract_tags = {
        "contract.version": grading_record["contract"]["version"],
        "contract.agreement": agreement.get("status", "proposal"),
        "contract.agreement_headline": agreement.get("headline", "PROPOSAL: not agreed"),
        "contract.hash": agreement.get("contract_hash", ""),
    }
    if run.get("registered_version"):
        client = mlflow.MlflowClient()
        for key, value in contract_tags.items():
            client.set_model_version_tag(
                run["registered_model"], run["registered_version"], key, value
            )
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.set_tags(
            {
                **contract_tags,
                **{
                    f"grade.{name}.threshold": round(value, 6)
                    for name, value in grading_record["thresholds"].items()
                },
            }
        )
        sealed = read_json(model_dir / MANIFEST_FILE)  # the bundle's files and the run record
        for name in (*sealed, MANIFEST_FILE, SIGNATURE_FILE):
            mlflow.log_artifact(str(model_dir / name), artifact_path=BUNDLE_ARTIFACT_PATH)


def log_importance(run: dict, table: pd.DataFrame, segments: pd.DataFrame, figures: dict) -> None:
    """Importance by field (metrics, table, figures) and segment quality on the training run."""
    mlflow.set_tracking_uri(tracking_uri())
    metrics = {}
    for row in table.itertuples():
        metrics[metric_key("importance", row.field)] = float(row.permutation_auc_mean)
        metrics[metric_key("importance_std", row.field)] = float(row.permutation_auc_std)
        metrics[metric_key("shap_mean_abs", row.field)] = float(row.mean_abs_shap)
    for row in segments.itertuples():
        for name in ("roc_auc", "conversion", "predicted", "ece"):
            value = getattr(row, name)
            if pd.notna(value):
                metrics[metric_key("segment", row.segment, row.value, name)] = float(value)
    client = mlflow.MlflowClient()
    run_id = run["run_id"]  # logged through the client: the run's status and duration stay
    client.log_batch(run_id, metrics=[Metric(k, v, now_ms(), 0) for k, v in metrics.items()])
    replace_table(client, run_id, table, "importance/importance.json")
    replace_table(client, run_id, segments, "importance/segments.json")
    for file_name, figure in figures.items():
        client.log_figure(run_id, figure, f"importance/{file_name}")


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def replace_table(client: Any, run_id: str, table: pd.DataFrame, artifact_file: str) -> None:
    """Log a table (the layout of `mlflow.log_table`, shown in the UI's table view) replacing
    what a previous run of the stage logged; `log_table` would append to it."""
    import json

    from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS

    text = table.to_json(orient="split", index=False, date_format="iso")
    client.log_text(run_id, text, artifact_file)
    logged = json.loads(client.get_run(run_id).data.tags.get(MLFLOW_LOGGED_ARTIFACTS, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in logged:
        client.set_tag(run_id, MLFLOW_LOGGED_ARTIFACTS, json.dumps([*logged, entry]))


TEST_METRIC = "test.{}"  # the evaluate stage's metrics on the training run


def log_evaluation_metrics(metrics: dict[str, float]) -> None:
    """The evaluate stage's figures on the active run, each under `test.<name>`."""
    mlflow.log_metrics({TEST_METRIC.format(k): float(v) for k, v in metrics.items()})


def evaluated_metric(run_id: str, name: str) -> float | None:
    """A figure the evaluate stage logged to a training run (None: not evaluated)."""
    return mlflow.MlflowClient().get_run(run_id).data.metrics.get(TEST_METRIC.format(name))
