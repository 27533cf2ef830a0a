"""DVC stage `grade`: file I/O around leadscore.model.thresholds."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import read_fitted, seal_bundle
from leadscore.model.thresholds import busiest_month_volume, derive_grading, grading_record
from leadscore.model.train import raw_output

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    leads_path: Path = Path("data/interim/leads.parquet"),
    model_dir: Path = Path("models"),
) -> dict:
    params = load_params(params_path)
    pipeline, card = read_fitted(model_dir)
    valid = pd.read_parquet(data_dir / "valid.parquet")
    leads = pd.read_parquet(leads_path)
    if fields.CREATED_AT in leads:
        volume = busiest_month_volume(leads[fields.CREATED_AT], params.grade.volume_months)
    else:  # an undated export: its leads spread evenly over data.export_months
        volume = round(len(leads) / params.data.export_months)
    inputs = valid[list(card.spec.fields)]
    probability = pipeline.predict_proba(inputs)[:, 1]
    grading, derivation = derive_grading(
        probability,
        volume,
        params.contract.grades,
        valid[fields.CONVERTED].to_numpy(int),
        params.grade.safety_margin,
        raw_output(pipeline, inputs),
    )
    record = grading_record(grading, derivation, params.contract, card.model_version)
    seal_bundle(model_dir, record)
    log_to_training_run(card, "log_grading", record, model_dir)
    log.info("grade: thresholds %s", {k: round(v, 4) for k, v in grading.thresholds.items()})
    return record
