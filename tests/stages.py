"""Helpers that run the pipeline's stage mains in-process on a project folder (no DVC): for
tests of CRM exports in any tier."""

from __future__ import annotations

from pathlib import Path

import yaml


def run_stages(
    root: Path, monkeypatch, stages=("prepare", "ingest", "split", "train", "grade", "evaluate")
):
    """The pipeline's stage mains, in `root`, against a private MLflow store."""
    import importlib

    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    for stage in stages:
        importlib.import_module(f"leadscore.stages.{stage}").main()


def files_params(default_params_raw, data: dict, **overrides) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["data"] = {**raw["data"], **data}
    raw["split"].update(valid_months=2, test_months=2)
    raw["train"]["max_iter"] = 80
    for key, value in overrides.items():
        raw[key] = value
    return raw


def run_score(*args: str):
    """The real `leadscore score` command, run in-process."""
    from typer.testing import CliRunner

    from leadscore.cli import app

    return CliRunner().invoke(app, ["score", *args])
