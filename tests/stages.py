"""Helpers that run the pipeline's stage mains in-process on a project folder (no DVC): for
tests of CRM exports in any tier."""

from __future__ import annotations

from pathlib import Path

import yaml

DEMO_KEYS = Path(__file__).resolve().parents[1] / "agreement" / "demo-keys"


def agree(root: Path, when: str = "2026-11-30T12:00:00Z") -> None:
    """Both owners of the contract in `root` approve it (with the demo keys), so that a test
    export's contract is agreed, as a real team's would be before it serves a model."""
    from leadscore.core import keys
    from leadscore.core.agreement import ROLES, sign_approval
    from leadscore.core.agreement_files import AgreementFiles
    from leadscore.core.config import load_params

    files = AgreementFiles(root)
    contract = load_params(root / "params.yaml").contract
    for role in ROLES:
        files.keys_dir.mkdir(parents=True, exist_ok=True)
        (files.keys_dir / f"{role}.pub").write_text(
            (DEMO_KEYS.parent / "keys" / f"{role}.pub").read_text()
        )
        private = keys.read_private_key(DEMO_KEYS / f"{role}.key")
        files.add_approval(sign_approval(contract, role, private, when))


def agreed_by_both(contract) -> dict:
    """A grading record's `agreement` for `contract`: both owners approved it (demo keys)."""
    from leadscore.core import keys
    from leadscore.core.agreement import ROLES, check_agreement, sign_approval

    private = {role: keys.read_private_key(DEMO_KEYS / f"{role}.key") for role in ROLES}
    approvals = [sign_approval(contract, role, key) for role, key in private.items()]
    public = {role: key.public_key() for role, key in private.items()}
    pems = {role: keys.public_pem(key).decode() for role, key in public.items()}
    agreement = check_agreement(contract, approvals, public)
    return {**agreement.to_dict(signatures=True), "public_keys": pems}


def run_stages(
    root: Path, monkeypatch, stages=("prepare", "ingest", "split", "train", "grade", "evaluate")
):
    """The pipeline's stage mains, in `root`, against a private MLflow store; the contract in
    `root` is approved by both owners first, unless `root` has its own agreement files."""
    import importlib

    if not (root / "agreement").is_dir():
        agree(root)
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


def registered_champion(tracking_url: str, models, split, params, grading_record, bundle_dir):
    """The tiny model logged to the MLflow store at `tracking_url`, its bundle (card naming the
    run) sealed in `bundle_dir` and logged to the run, its version the `champion`: (run, client)."""
    from mlflow import MlflowClient

    from leadscore.core.card import TrainingRun
    from leadscore.mlops import tracking
    from leadscore.model.bundle import save_bundle

    pipeline, baseline, card = models
    example = split.valid[list(card.spec.fields)].head(3)
    run = tracking.log_training_run(params, pipeline, card, example)
    card = card.model_copy(update={"mlflow": TrainingRun.model_validate(run)})
    save_bundle(bundle_dir, pipeline, baseline, card, grading_record)
    tracking.log_grading(run, grading_record, bundle_dir)
    client = MlflowClient(tracking_url)
    client.set_registered_model_alias(
        run["registered_model"], "champion", run["registered_version"]
    )
    return run, client


ACTIVITY_STAGES = ("prepare", "ingest", "split", "train", "grade", "evaluate")


def activity_project(root: Path, n_leads: int, stages=ACTIVITY_STAGES, **behaviour) -> Path:
    """examples/activity (the built-in CRM with its activity log) on `n_leads` leads in `root`,
    its stages run in-process; `behaviour` overrides `data.behaviour` keys."""
    import pytest

    from leadscore.core.params_file import read_raw_params

    project_root = DEMO_KEYS.parents[1]
    raw = read_raw_params(project_root / "examples" / "activity" / "params.yaml")
    raw["project_dir"] = str(project_root)
    raw["generate"]["n_leads"] = n_leads
    raw["data"]["behaviour"].update(behaviour)
    raw["train"]["search"]["max_rows"] = 5_000
    raw["evaluate"]["stability_max_train_leads"] = 0  # a bootstrap, not refits
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch, stages)
    return root
