"""What reasons cost in batch scoring: `leadscore score` on 1M built-in leads, without and with
`--reasons` (not a test; prints figures).

The leads are the built-in generator's (bench/spark.py's `make_leads`, kept in a scratch
directory between runs). Both runs score the same Parquet file to Parquet with no scoring log;
the goal is a time with reasons of at most 3x the time without.

Usage: `make bench-reasons` or `python bench/batch_reasons.py [--leads 1000000]`.
Figures go to stdout and bench/results/batch_reasons.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL = 3.0


def timed_score(source: Path, out: Path, reasons: bool) -> float:
    command = [
        str(BIN / "leadscore"), "score", str(source), "-o", str(out), "--no-log",
        "--reasons" if reasons else "--no-reasons",
    ]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from spark import make_leads

    work = Path(tempfile.gettempdir()) / "leadscore-bench-reasons"
    work.mkdir(exist_ok=True)
    source = make_leads(args.leads, work)
    figures = {}
    for reasons in (False, True):
        seconds = timed_score(source, work / f"scored-{reasons}.parquet", reasons)
        key = "with_reasons" if reasons else "without_reasons"
        figures[key] = {"seconds": round(seconds, 1), "leads_per_s": round(args.leads / seconds)}
        print(f"  {key:16s} {seconds:7.1f} s  {args.leads / seconds:10,.0f} leads/s", flush=True)
    ratio = figures["with_reasons"]["seconds"] / figures["without_reasons"]["seconds"]
    figures["ratio"] = {"ratio": round(ratio, 2), "goal": f"<= {GOAL}", "met": ratio <= GOAL}
    figures["load_average"] = os.getloadavg()[0]
    print(f"reasons cost {ratio:.2f}x the time without (goal <= {GOAL}x)")
    out = ROOT / "bench" / "results" / "batch_reasons.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
