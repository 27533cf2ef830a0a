"""Measurement (not a test): how finely the served model ranks the test period's leads.

Isotonic calibration is a step function: leads the booster separates can land on one flat step
and get the same probability, hence the same score. This prints, for the test period of the
model `make run` trained (data/processed/test.parquet, models/): the number of distinct values
and the share of leads in the largest block of equal values, for the raw booster output, the
calibrated probability and the 1-100 score (as served, and as it was when cut from the probability);
and the test AUC of each. Usage: `make bench-rank`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.core import fields
from leadscore.model.bundle import load_bundle
from leadscore.scoring.scorer import Scorer

ROOT = Path(__file__).resolve().parents[1]


def resolution(values: np.ndarray) -> dict:
    """Distinct values and the largest tie block (count and share of the leads)."""
    _, counts = np.unique(values, return_counts=True)
    return {
        "distinct": int(len(counts)),
        "largest_tie_block": int(counts.max()),
        "largest_tie_share": round(float(counts.max() / len(values)), 4),
    }


def measure(scorer: Scorer, test: pd.DataFrame) -> dict:
    """Resolution and AUC of raw output, calibrated probability and score on `test`."""
    records = test.astype(object).where(test.notna(), None).to_dict("records")
    matrix, _ = scorer.encode_records(records)
    scored = scorer.score(matrix)
    y = test[fields.CONVERTED].to_numpy(int)
    by_probability = replace(scorer.grading, raw_score_edges=()).score(scored.probability)
    return {
        "test_leads": len(test),
        "raw_output": {**resolution(scored.raw), "auc": round(roc_auc_score(y, scored.raw), 5)},
        "probability": {
            **resolution(scored.probability),
            "auc": round(roc_auc_score(y, scored.probability), 5),
        },
        "score": {
            **resolution(scored.score),
            "auc": round(roc_auc_score(y, scored.score), 5),
            "from": "raw output" if scorer.grading.raw_score_edges else "probability",
        },
        "score_cut_from_probability": {
            **resolution(by_probability),
            "auc": round(roc_auc_score(y, by_probability), 5),
        },
    }


def main() -> None:
    bundle = load_bundle(ROOT / "models")
    test = pd.read_parquet(ROOT / "data/processed/test.parquet")
    print(json.dumps(measure(Scorer.from_bundle(bundle), test), indent=2))


if __name__ == "__main__":
    main()
