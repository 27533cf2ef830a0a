"""Every candidate of the model choice on the validation and the test period (figures to report).

Run after `make run` (or in an example's directory after its `dvc repro`):
`python bench/model_choice.py [project_dir]`. It repeats the train stage's search on the split
tables, then scores each candidate on the test period, which the choice itself never sees.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.core.config import load_params
from leadscore.core.io import read_json
from leadscore.core.schema import FeatureSpec
from leadscore.model.features import apply_exclusions
from leadscore.model.train import fit_models


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    params = load_params(root / "params.yaml")
    tables = {
        n: pd.read_parquet(root / f"data/processed/{n}.parquet") for n in ("train", "valid", "test")
    }
    spec = apply_exclusions(
        FeatureSpec.from_dict(read_json(root / "data/interim/features.json")),
        params.contract.excluded_fields,
    )
    started = time.perf_counter()
    fitted = fit_models(tables["train"], tables["valid"], spec, params.train)
    seconds = time.perf_counter() - started
    test = tables["test"]
    encoded = fitted.pipeline.named_steps["features"].transform(test[list(spec.fields)])
    print(
        f"{'candidate':<95} {'stage':<7} {'rows':>7} {'fit s':>7} {'valid AUC':>9} {'test AUC':>8}"
    )
    for result in fitted.results:
        auc = roc_auc_score(test["converted"], result.estimator.predict_proba(encoded)[:, 1])
        print(
            f"{result.candidate.name:<95} {result.stage:<7} {result.rows:>7,} "
            f"{result.fit_seconds:>7.1f} {result.valid_roc_auc:>9.4f} {auc:>8.4f}"
        )
    served = roc_auc_score(test["converted"], fitted.pipeline.predict_proba(test)[:, 1])
    print(f"\nchoice: {fitted.choice.reason}")
    print(f"calibration: {fitted.calibration.method} ({fitted.calibration.reason})")
    print(f"served model test AUC {served:.4f}")
    print(f"search {fitted.search_seconds:.1f} s, search + calibration {seconds:.1f} s")


if __name__ == "__main__":
    main()
