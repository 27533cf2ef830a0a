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
from leadscore.core.contract_report import GateResult
from leadscore.core.redact import redact, redact_mapping
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


def git_commit(root: Path = Path(".")) -> str:
    """HEAD of the project's git repository, with `-dirty` when tracked files changed."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def dvc_data_hashes(lock_path: Path = Path("dvc.lock")) -> dict[str, str]:
    """md5 of the train/valid/test tables as recorded in `dvc.lock` by the split stage."""
    import yaml

    if not lock_path.is_file():
        return {}
    lock = yaml.safe_load(lock_path.read_text()) or {}
    outs = (lock.get("stages", {}).get("split") or {}).get("outs", [])
    return {Path(out["path"]).stem: out.get("md5", "") for out in outs if "md5" in out}


# The params a model version is trained from: the keys dvc.yaml's train stage declares (the
# split's params reach training through the data, whose dvc.lock hashes are tagged as well).
TRAINING_PARAMS: dict[str, Any] = {
    "train": True,
    "contract": {"version", "outcome", "excluded_fields", "publish_gate"},
}


def lineage(params: Params, card: ModelCard) -> dict[str, str]:
    """Tags that lead from a registered version back to its exact code, data and params."""
    import importlib.metadata as metadata

    tags = {
        "lineage.git_commit": git_commit(),
        "lineage.model_version": card.model_version,
        "lineage.training_data_sha256": card.training_data.sha256,
        "lineage.contract_version": params.contract.version,
        "lineage.params_sha256": hashlib.sha256(
            params.model_dump_json(include=TRAINING_PARAMS).encode()
        ).hexdigest(),
    }
    for name, md5 in dvc_data_hashes().items():
        tags[f"lineage.dvc.{name}_md5"] = md5
    for package in ("scikit-learn", "pandas", "numpy", "mlflow", "dvc", "numba"):
        try:
            tags[f"lineage.lib.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return tags


# What the logged pyfunc needs to load the pickled Pipeline (its transformers live in leadscore).
MODEL_PACKAGES = ("mlflow", "cloudpickle", "leadscore", "numpy", "pandas", "scikit-learn", "scipy")


def model_requirements() -> list[str]:
    """The model's pip requirements, pinned to the installed versions.

    Given explicitly, so MLflow does not re-import the model in a subprocess to guess them
    (about 4 s per training run).
    """
    import importlib.metadata as metadata

    return [f"{package}=={metadata.version(package)}" for package in MODEL_PACKAGES]


def describe_version(tags: dict[str, str], card: ModelCard) -> str:
    data = card.training_data
    return (
        f"leadscore {card.model_version} (contract {tags['lineage.contract_version']}), "
        f"trained on {data.rows_train:,} leads created {data.created_from} to "
        f"{data.created_to}. Code: git {tags['lineage.git_commit']}; data: dvc.lock md5 "
        f"{tags.get('lineage.dvc.train_md5', 'n/a')} (train). Reproduce: `git checkout "
        f"{tags['lineage.git_commit'].removesuffix('-dirty')} && dvc repro`."
    )


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


def previous_params(experiment_id: str) -> dict[str, str]:
    """The params of the experiment's latest training run (not a candidate child run)."""
    runs = mlflow.search_runs(
        [experiment_id],
        filter_string="tags.model_version != ''",
        order_by=["attributes.start_time DESC"],
        max_results=20,
        output_format="list",
    )
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return dict(parents[0].data.params) if parents else {}


def changed_params(before: dict[str, str], after: dict[str, Any]) -> list[str]:
    """`key old -> new` for each param that differs from the previous training run."""
    if not before:
        return []
    return [
        f"{key} {before.get(key, '(none)')} -> {value}"
        for key, value in sorted(after.items())
        if str(value) != before.get(key)
    ]


def run_description(params: Params, card: ModelCard, changes: list[str] | None) -> str:
    """The run's description (MLflow's `mlflow.note.content`): data, contract, what changed."""
    data = card.training_data
    lines = [
        f"leadscore {card.model_version}: trained on {data.rows_train:,} leads created "
        f"{data.created_from} to {data.created_to} (data sha256 {data.sha256[:12]}), "
        f"contract {params.contract.version}.",
    ]
    if changes is None:
        lines.append("The first training run of this experiment.")
    elif changes:
        lines.append("Changed against the previous run: " + "; ".join(changes[:20]) + ".")
    else:
        lines.append("Same params as the previous run.")
    return "\n\n".join(lines)


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
        mlflow.log_params(
            redact_mapping(
                {
                    "contract.outcome.window_days": params.contract.outcome.window_days,
                    "contract.excluded_fields": ",".join(params.contract.excluded_fields),
                    "features": ",".join(card.spec.fields),
                    "training_data.sha256": card.training_data.sha256,
                }
            )
        )
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
        tags = {**redact_mapping(lineage(params, card)), MODEL_DIGEST_TAG: digest}
        client = mlflow.MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)
        client.update_model_version(name, str(version), description=describe_version(tags, card))
        client.set_registered_model_alias(name, CHALLENGER, str(version))
    log.info("mlflow: run %s, registered %s v%s", run.info.run_id, name, version)
    return {
        "tracking_uri": redact(tracking_uri()),  # the card is served: never a password
        "experiment_id": run.info.experiment_id,
        "run_id": run.info.run_id,
        "registered_model": name,
        "registered_version": None if version is None else str(version),
    }


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


GATE_RECORD = "publish_gate.json"  # the contract stage's GateResult, on the training run
TEST_METRIC = "test.{}"  # the evaluate stage's metrics on the training run


def log_evaluation_metrics(metrics: dict[str, float]) -> None:
    """The evaluate stage's figures on the active run, each under `test.<name>`."""
    mlflow.log_metrics({TEST_METRIC.format(k): float(v) for k, v in metrics.items()})


def evaluated_metric(run_id: str, name: str) -> float | None:
    """A figure the evaluate stage logged to a training run (None: not evaluated)."""
    return mlflow.MlflowClient().get_run(run_id).data.metrics.get(TEST_METRIC.format(name))


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
