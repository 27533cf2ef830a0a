"""Shared fixtures: a small generated CRM, its ingested and split tables, a trained bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_LEADS = 12_000


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def default_params_raw() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


@pytest.fixture(scope="session")
def tiny_params_raw(default_params_raw) -> dict:
    """The project's params with a tiny data set and a quick booster."""
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["generate"]["n_leads"] = TINY_LEADS
    raw["train"]["max_iter"] = 60
    return raw


@pytest.fixture(scope="session")
def tiny_crm(tiny_params_raw):
    from leadscore.generate import generate_crm

    gen = tiny_params_raw["generate"]
    return generate_crm(
        n_leads=gen["n_leads"],
        months=gen["months"],
        export_date=gen["export_date"],
        window_days=tiny_params_raw["contract"]["outcome"]["window_days"],
        seed=gen["seed"],
    )


@pytest.fixture(scope="session")
def tiny_params(tiny_params_raw):
    from leadscore.config import parse_params

    return parse_params(tiny_params_raw)


@pytest.fixture(scope="session")
def tiny_split(tiny_crm, tiny_params):
    from leadscore.ingest import ingest
    from leadscore.split import resolve_as_of, time_split

    leads = ingest(tiny_crm.leads).valid
    return time_split(
        leads,
        as_of=resolve_as_of(leads, tiny_params.split.as_of),
        window_days=tiny_params.contract.outcome.window_days,
        valid_months=tiny_params.split.valid_months,
        test_months=tiny_params.split.test_months,
    )


@pytest.fixture(scope="session")
def tiny_models(tiny_split, tiny_params):
    """(pipeline, baseline, card) trained on the tiny split, without MLflow."""
    from leadscore.train import train_models

    return train_models(tiny_split.train, tiny_split.valid, tiny_params)


@pytest.fixture(scope="session")
def tiny_grading_record(tiny_models, tiny_split, tiny_params) -> dict:
    """`grading.json` of the tiny model, derived from the contract on the tiny valid period."""
    from leadscore.features import FeatureSpec
    from leadscore.grade import derive_grading, grading_record

    pipeline, _, card = tiny_models
    valid = tiny_split.valid
    probability = pipeline.predict_proba(
        valid[list(FeatureSpec.from_dict(card["features"]).fields)]
    )
    monthly_volume = len(valid) / tiny_params.split.valid_months
    grading, derivation = derive_grading(
        probability[:, 1], monthly_volume, tiny_params.contract.grades, valid["converted"]
    )
    return grading_record(grading, derivation, tiny_params.contract, card["model_version"])


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory, tiny_models, tiny_grading_record) -> Path:
    """A sealed bundle of the tiny model (read-only: copy it before tampering)."""
    from leadscore.bundle import save_bundle

    directory = tmp_path_factory.mktemp("bundle") / "models"
    save_bundle(directory, *tiny_models, tiny_grading_record)
    return directory


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A private SQLite MLflow store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory, tiny_params_raw) -> Path:
    """A copy of the project (code, dvc.yaml, tiny params) in its own git repo, reproduced once."""
    root = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", "pyproject.toml", ".dvcignore"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(
        PROJECT_ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params_raw, sort_keys=False))
    env = project_env(root)
    run(["git", "init", "-q"], root, env)
    run(["dvc", "init", "-q"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-qm", "tiny project"], root, env)
    run(["dvc", "repro"], root, env)
    return root


def project_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        MPLBACKEND="Agg",
        PYTHONPATH=str(root / "src"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
