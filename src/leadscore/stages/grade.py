"""DVC stage `grade`: file I/O around leadscore.model.thresholds.

`validation_leads` and `grading_for` are shared with the proposal preview (stages/proposal.py),
so a contract previewed there is graded exactly as this stage would grade it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.agreement_files import AgreementFiles
from leadscore.core.card import ModelCard
from leadscore.core.config import Params, load_params
from leadscore.core.contract import Contract
from leadscore.data import behaviour
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import read_fitted, seal_bundle
from leadscore.model.grading import Grading
from leadscore.model.thresholds import busiest_month_volume, derive_grading, grading_record
from leadscore.model.train import raw_output

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationLeads:
    """What the grade thresholds are derived from: the model's calibrated probability (and raw
    output) on the validation leads, their outcomes, and the incoming leads a month."""

    probability: np.ndarray
    raw: np.ndarray | None
    converted: np.ndarray
    monthly_volume: float
    lead_keys: np.ndarray | None = None  # each row's lead, when rows are snapshots of leads


def validation_leads(
    params: Params, pipeline: Any, card: ModelCard, data_dir: Path, leads_path: Path
) -> ValidationLeads:
    valid = pd.read_parquet(data_dir / "valid.parquet")
    leads = pd.read_parquet(leads_path)
    snapshots = behaviour.SCORED_AT in valid
    if snapshots:  # rows are snapshots: the month's volume counts each lead once
        leads = leads[~behaviour.leads_of(leads).duplicated()]
    if fields.CREATED_AT in leads:
        volume = busiest_month_volume(leads[fields.CREATED_AT], params.grade.volume_months)
    else:  # an undated export: its leads spread evenly over data.export_months
        volume = round(len(leads) / params.data.export_months)
    inputs = valid[list(card.spec.fields)]
    return ValidationLeads(
        probability=pipeline.predict_proba(inputs)[:, 1],
        raw=raw_output(pipeline, inputs),
        converted=valid[fields.CONVERTED].to_numpy(int),
        monthly_volume=volume,
        lead_keys=behaviour.leads_of(valid).to_numpy() if snapshots else None,
    )


def grading_for(contract: Contract, params: Params, leads: ValidationLeads) -> tuple[Grading, dict]:
    """The grade thresholds that keep `contract`'s promises on the validation leads."""
    return derive_grading(
        leads.probability,
        leads.monthly_volume,
        contract.grades,
        leads.converted,
        params.grade.safety_margin,
        leads.raw,
        leads.lead_keys,
    )


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    leads_path: Path = Path("data/interim/leads.parquet"),
    model_dir: Path = Path("models"),
) -> dict:
    params = load_params(params_path)
    pipeline, card = read_fitted(model_dir)
    leads = validation_leads(params, pipeline, card, data_dir, leads_path)
    grading, derivation = grading_for(params.contract, params, leads)
    files = AgreementFiles.beside(params_path)
    agreement = files.sealed_record(params.contract)
    record = grading_record(grading, derivation, params.contract, card.model_version, agreement)
    seal_bundle(model_dir, record)
    log_to_training_run(card, "log_grading", record, model_dir)
    bars = ", ".join(f"{grade} {bar:.4f}" for grade, bar in grading.thresholds.items())
    log.info("grade: thresholds %s", bars)
    (log.info if agreement["agreed"] else log.warning)("grade: %s", agreement["headline"])
    for problem in agreement["problems"]:
        log.warning("grade: approval refused: %s", problem)
    if not agreement["agreed"] and not files.proposal_changes() and files.history():
        log.warning(
            "grade: contract.yaml itself differs from the agreed version: to try a change "
            "without rewriting the agreed file, restore it (git checkout contract.yaml) and "
            "propose through contract.proposal.yaml: `leadscore contract propose KEY=VALUE` or "
            "dvc exp run -S 'contract.proposal.yaml:+contract.KEY=VALUE' (docs/contract.md)"
        )
    return record
