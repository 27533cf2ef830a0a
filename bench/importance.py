"""Benchmark (not a test): what the importance stage adds to the evaluate stage's time, at
200,000 test leads (the test period resampled with replacement), on the model `make run` trained.

Times the compute of each stage (no file or MLflow I/O): evaluate = scoring through the sklearn
Pipeline, the baseline and all metrics and curves; importance = permutation importance and
TreeSHAP on the configured subsamples, plus the segment table (on evaluate's
probabilities). Usage: `make bench-importance`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.analysis.evaluate import curves, evaluate
from leadscore.analysis.importance import compute
from leadscore.core.config import load_params
from leadscore.model.bundle import load_baseline, load_bundle
from leadscore.scoring.scorer import Scorer, score_leads

ROOT = Path(__file__).resolve().parents[1]
N_TEST = 200_000


def main() -> None:
    params = load_params(ROOT / "params.yaml")
    bundle = load_bundle(ROOT / "models")
    baseline = load_baseline(ROOT / "models")
    test = pd.read_parquet(ROOT / "data/processed/test.parquet")
    rng = np.random.default_rng(0)
    big = test.iloc[rng.integers(0, len(test), N_TEST)].reset_index(drop=True)
    big["lead_id"] = [f"B{i:07d}" for i in range(N_TEST)]
    fields = list(bundle.card.spec.fields)

    started = time.perf_counter()
    probability = score_leads(bundle, big)["probability"].to_numpy()
    evaluate(
        big, probability, baseline.predict_proba(big[fields])[:, 1], None,
        params.evaluate.calibration_bins, params.evaluate.top_share,
    )  # fmt: skip
    curves(big["converted"].to_numpy(int), probability, params.evaluate.calibration_bins)
    evaluate_seconds = time.perf_counter() - started

    started = time.perf_counter()
    scorer = Scorer.from_bundle(bundle)  # compile + parity check against the pipeline
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = compute(scorer, big.assign(probability=probability), params.importance)
    importance_seconds = time.perf_counter() - started
    summary = {
        "test_leads": N_TEST,
        "evaluate_seconds": round(evaluate_seconds, 2),
        "importance_seconds": round(importance_seconds, 2),
        "added_share": round(importance_seconds / evaluate_seconds, 3),
        "goal": "< 0.5",
        "scorer_compile_seconds": round(compile_seconds, 2),
        "added_share_with_compile": round(
            (importance_seconds + compile_seconds) / evaluate_seconds, 3
        ),
        **{k: v for k, v in result["summary"].items() if k != "seconds"},
    }
    print(json.dumps(summary, indent=2))
    out = ROOT / "bench" / "results" / "importance.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
