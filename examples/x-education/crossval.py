"""Stratified 5-fold check of the X Education model (a figure to report, not a pipeline stage).

Run after `make example-x-education` (it reads the ingested leads and the fields the leakage
guard kept): `make example-x-education-cv`. Each fold makes the same model choice as the `train`
stage on 60 % of the leads (candidates fitted there, compared and calibrated on 20 %) and measures
the test AUC on the held-out 20 %.
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
from leadscore.model.train import fit_models

HERE = Path(__file__).resolve().parent


def fold_aucs(
    leads: pd.DataFrame, spec: FeatureSpec, params, n_folds: int = 5
) -> list[tuple[float, str]]:
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
        fitted = fit_models(train, valid, spec, params.train)
        test = leads.iloc[held_out]
        scores = fitted.pipeline.predict_proba(test[list(spec.fields)])[:, 1]
        chosen = fitted.choice.chosen.family
        aucs.append((float(roc_auc_score(labels[held_out], scores)), chosen))
    return aucs


def main() -> None:
    params = load_params(HERE / "params.yaml")
    leads = pd.read_parquet(HERE / "data/interim/leads.parquet")
    kept = json.loads((HERE / "data/interim/features.json").read_text())
    spec = apply_exclusions(FeatureSpec.from_dict(kept), params.contract.excluded_fields)
    folds = fold_aucs(leads, spec, params)
    aucs = [auc for auc, _ in folds]
    print("test AUC per fold:", ", ".join(f"{auc:.4f} ({family})" for auc, family in folds))
    print(f"5-fold mean {np.mean(aucs):.4f} (std {np.std(aucs):.4f}) on {len(leads):,} leads")


if __name__ == "__main__":
    main()
