"""Stratified 5-fold check of the X Education model (a figure to report, not a pipeline stage).

Run after `make example-x-education` (it reads the ingested leads and the fields the leakage
guard kept): `make example-x-education-cv`. Each fold fits the same Pipeline as the `train`
stage on 60 % of the leads, calibrates on 20 % and measures the test AUC on the held-out 20 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.core.schema import FeatureSpec
from leadscore.model.features import apply_exclusions
from leadscore.model.train import fit_scoring_pipeline

HERE = Path(__file__).resolve().parent


def fold_aucs(leads: pd.DataFrame, spec: FeatureSpec, params, n_folds: int = 5) -> list[float]:
    labels = leads[fields.CONVERTED].astype(int).to_numpy()
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=params.train.seed)
    aucs = []
    for rest, held_out in folds.split(leads, labels):
        train, valid = train_test_split(
            leads.iloc[rest],
            test_size=0.25,
            stratify=labels[rest],
            random_state=params.train.seed,
        )
        pipeline = fit_scoring_pipeline(train, valid, spec, params.train)
        test = leads.iloc[held_out]
        scores = pipeline.predict_proba(test[list(spec.fields)])[:, 1]
        aucs.append(float(roc_auc_score(labels[held_out], scores)))
    return aucs


def main() -> None:
    params = load_params(HERE / "params.yaml")
    leads = pd.read_parquet(HERE / "data/interim/leads.parquet")
    kept = json.loads((HERE / "data/interim/features.json").read_text())
    spec = apply_exclusions(FeatureSpec.from_dict(kept), params.contract.excluded_fields)
    aucs = fold_aucs(leads, spec, params)
    print("test AUC per fold:", ", ".join(f"{auc:.4f}" for auc in aucs))
    print(f"5-fold mean {np.mean(aucs):.4f} (std {np.std(aucs):.4f}) on {len(leads):,} leads")


if __name__ == "__main__":
    main()
