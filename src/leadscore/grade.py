"""Grade stage: turn the contract's grade promises into probability thresholds, seal the bundle.

Thresholds are derived on the validation period (newer leads than training, calibrated
probabilities), so a change of the promises re-runs this stage and what follows, not the fit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore import fields
from leadscore.bundle import read_fitted, seal_bundle
from leadscore.config import Contract, GradePromises, load_params
from leadscore.features import FeatureSpec
from leadscore.grading import Grading, score_edges, top_share_thresholds

log = logging.getLogger(__name__)


def derive_grading(
    probability: np.ndarray, created_at: pd.Series, promises: GradePromises
) -> tuple[Grading, dict]:
    """Grade thresholds and score cut points from calibrated validation probabilities.

    Returns the grading and a record of how each threshold was chosen.
    """
    shares = {"A": 0.05, "B": 0.15, "C": 0.30}
    grading = Grading(top_share_thresholds(probability, shares), score_edges(probability))
    return grading, {"method": "top_share", "shares": shares}


def grading_record(
    grading: Grading, derivation: dict, contract: Contract, model_version: str
) -> dict:
    """What `grading.json` holds: thresholds, score edges, how they were derived, the contract."""
    return {
        **grading.to_dict(),
        "model_version": model_version,
        "derivation": derivation,
        "contract": contract.model_dump(mode="json"),
    }


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    model_dir: Path = Path("models"),
) -> dict:
    params = load_params(params_path)
    pipeline, card = read_fitted(model_dir)
    valid = pd.read_parquet(data_dir / "valid.parquet")
    inputs = valid[list(FeatureSpec.from_dict(card["features"]).fields)]
    probability = pipeline.predict_proba(inputs)[:, 1]
    grading, derivation = derive_grading(
        probability, valid[fields.CREATED_AT], params.contract.grades
    )
    record = grading_record(grading, derivation, params.contract, card["model_version"])
    seal_bundle(model_dir, record)
    run = card.get("mlflow") or {}
    if run.get("run_id"):
        from leadscore import tracking

        tracking.log_grading(run["run_id"], record, model_dir)
    log.info("grade: thresholds %s", {k: round(v, 4) for k, v in grading.thresholds.items()})
    return record
