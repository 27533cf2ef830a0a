"""Training at scale (not a test): fit time and peak memory of the scoring pipeline at 1M and 5M
generated leads, for the "Training at scale" section of docs/spark.md.

Each size runs in its own child process: generate -> ingest -> split (the data preparation), then
`train_models` (the sklearn Pipeline: features -> booster -> calibration, plus the logistic
baseline) on the training period. A sampler records the peak resident memory of each phase.
Usage: `python bench/fit.py --sizes 1000000 5000000`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Peak RSS of this process while the `with` block runs (sampled every 0.1 s), in GiB."""

    def __enter__(self) -> PeakMemory:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(0.1)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.gib = round(self.peak / 2**30, 2)


def run_one(n_leads: int) -> dict:

    from leadscore.core.config import parse_params
    from leadscore.core.params_file import read_raw_params
    from leadscore.data.generate import generate_crm
    from leadscore.data.ingest import ingest
    from leadscore.data.split import resolve_as_of, time_split
    from leadscore.model.train import train_models

    raw = read_raw_params(ROOT / "params.yaml")
    raw["generate"]["n_leads"] = n_leads
    params = parse_params(raw)
    started = time.perf_counter()
    with PeakMemory() as prep_memory:
        crm = generate_crm(
            n_leads=n_leads,
            months=params.generate.months,
            export_date=params.generate.export_date,
            window_days=params.contract.outcome.window_days,
            seed=params.generate.seed,
        )
        leads = ingest(crm.leads).valid
        del crm
        split = time_split(
            leads,
            as_of=resolve_as_of(leads, params.split.as_of),
            window_days=params.contract.outcome.window_days,
            valid_months=params.split.valid_months,
            test_months=params.split.test_months,
        )
        del leads
    prep_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with PeakMemory() as fit_memory:
        _, _, card = train_models(split.train, split.valid, params)
    return {
        "n_leads": n_leads,
        "train_rows": len(split.train),
        "valid_rows": len(split.valid),
        "prep_seconds": round(prep_seconds, 1),
        "prep_peak_gib": prep_memory.gib,
        "pipeline_fit_seconds": card.metrics.fit_seconds,
        "train_models_seconds": round(time.perf_counter() - started, 1),
        "fit_peak_gib": fit_memory.gib,
        "booster_iterations": card.booster_iterations,
        "valid_auc": round(card.metrics.valid_roc_auc, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    rows = []
    for n in args.sizes:
        print(f"fitting at {n:,} leads ...", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, cwd=ROOT
        )
        if child.returncode != 0:
            sys.exit(f"fit at {n:,} leads failed:\n{child.stdout}\n{child.stderr}")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print("  " + json.dumps(rows[-1]), flush=True)
    load = os.getloadavg()
    print(f"\nload average at the end (1/5/15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("\n| leads | train rows | prep s | prep GiB | fit s | train_models s | fit GiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_leads']:,} | {r['train_rows']:,} | {r['prep_seconds']} | "
            f"{r['prep_peak_gib']} | {r['pipeline_fit_seconds']} | {r['train_models_seconds']} | "
            f"{r['fit_peak_gib']} |"
        )


if __name__ == "__main__":
    main()
