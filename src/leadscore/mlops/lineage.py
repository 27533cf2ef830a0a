"""What a training run records about where it came from: the exact code, data, params and
libraries (tags on the run and its registered version), and what changed since the last run."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import mlflow

from leadscore.core.card import ModelCard
from leadscore.core.config import Params


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
