"""Benchmark of the whole pipeline (not a test): wall time and peak memory at 200k and 1M leads,
and the ratio of pipeline time to a bare fit of the classifier on the same rows.

It judges itself: each goal (`GOALS`: the whole `dvc repro` under 40 s at 200k; at 1M the
training within 2x and the whole `dvc repro` within 5x a bare fit measured in the same run) is
printed met or MISSED, and the figures, the goals and the machine's load average go to
`bench/results/pipeline.json`.

Each size runs `dvc repro` in a scratch copy of the project, in a child process, so the peak
resident memory of each stage is measured separately. Usage: `make bench` or
`python bench/pipeline.py --sizes 200000 1000000`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


# what `dvc repro` reads that no stage writes: the pipeline, the contract and its proposal, the
# owners' agreement (history, approvals, keys), the code (tests/unit/test_bench_pipeline.py)
PROJECT_FILES = ("dvc.yaml", ".dvcignore", "contract.yaml", "contract.proposal.yaml")
PROJECT_DIRS = ("src", "bin", "agreement")


def scratch_project(n_leads: int) -> Path:
    """A throwaway git+DVC copy of the project whose generator makes `n_leads` leads."""
    root = Path(tempfile.mkdtemp(prefix=f"leadscore-bench-{n_leads}-"))
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, root / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["generate"]["n_leads"] = n_leads
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = bench_env(root)
    for command in (
        ["git", "init", "-q"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "bench"],
    ):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return root


def bench_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        PYTHONPATH=str(root / "src"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        MPLBACKEND="Agg",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@localhost",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@localhost",
    )
    return env


def bare_fit_seconds(root: Path) -> float:
    """Time one fit of the chosen model (same recipe) on the same encoded training rows."""
    sys.path.insert(0, str(root / "src"))
    import pandas as pd

    from leadscore.core.config import load_params
    from leadscore.model.bundle import load_bundle
    from leadscore.model.candidates import candidate_from_record, make_estimator

    params = load_params(root / "params.yaml")
    bundle = load_bundle(root / "models")
    spec = bundle.card.spec
    train = pd.read_parquet(root / "data/processed/train.parquet")
    x = bundle.pipeline.named_steps["features"].transform(train[list(spec.fields)])
    if bundle.card.model_choice is None:
        sys.exit("the model card records no model choice: run `make run` first")
    chosen = candidate_from_record(bundle.card.model_choice.chosen)
    model = make_estimator(chosen, spec, params.train)
    started = time.perf_counter()
    model.fit(x, train["converted"].to_numpy())
    return time.perf_counter() - started


def run_one(n_leads: int) -> dict:
    """Child process: reproduce the pipeline at one size and report its figures as JSON."""
    root = scratch_project(n_leads)
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    stage_seconds = {}
    for stage in stages:  # in dvc.yaml order, which is the DAG order
        started = time.perf_counter()
        subprocess.run(
            ["dvc", "repro", "--single-item", stage],
            cwd=root,
            env=bench_env(root),
            check=True,
            capture_output=True,
        )
        stage_seconds[stage] = round(time.perf_counter() - started, 1)
    pipeline_seconds = sum(stage_seconds.values())
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    metrics = json.loads((root / "reports/metrics.json").read_text())
    from leadscore.model.bundle import read_card

    card = read_card(root / "models/model_card.json").to_record()  # with the run's fit seconds
    fit_seconds = bare_fit_seconds(root)
    startup = startup_seconds(root)
    shutil.rmtree(root, ignore_errors=True)
    return {
        "n_leads": n_leads,
        "pipeline_seconds": round(pipeline_seconds, 1),
        "peak_memory_gib": round(peak_kib / 2**20, 2),
        "bare_fit_seconds": round(fit_seconds, 1),
        "model_fit_seconds": card["metrics"]["fit_seconds"],
        "fit_ratio": round(card["metrics"]["fit_seconds"] / fit_seconds, 2),
        "ratio": round(pipeline_seconds / fit_seconds, 2),
        "test_auc": round(metrics["roc_auc"], 4),
        "oracle_auc": round(metrics.get("oracle_roc_auc", float("nan")), 4),
        "stage_seconds": stage_seconds,
        "startup_seconds": startup,
    }


def startup_seconds(root: Path, repeats: int = 3) -> float:
    """Median wall time of one stage process doing nothing (`leadscore --help`): what each of
    the pipeline's processes pays before its stage starts."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        command = [str(root / "bin" / "leadscore"), "--help"]
        subprocess.run(command, env=bench_env(root), capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2], 2)


# (name, size, figure, comparison, limit): each judged met / MISSED on the figures of this run
GOALS = (
    ("whole `dvc repro` at 200k, seconds", 200_000, "pipeline_seconds", "<", 40),
    ("training / bare fit at 1M", 1_000_000, "fit_ratio", "<=", 2.0),
    ("whole `dvc repro` / bare fit at 1M", 1_000_000, "ratio", "<=", 5.0),
    ("whole `dvc repro` at 1M, seconds", 1_000_000, "pipeline_seconds", "<=", 720),
    ("peak memory at 1M, GiB", 1_000_000, "peak_memory_gib", "<=", 6.0),
)


def judge(rows: list[dict]) -> dict:
    """Each goal whose size was run: the figure, the goal and whether it is met."""
    by_size = {row["n_leads"]: row for row in rows}
    out = {}
    for name, size, key, op, limit in GOALS:
        if size not in by_size:
            continue
        figure = by_size[size][key]
        met = figure < limit if op == "<" else figure <= limit
        out[name] = {"figure": figure, "goal": f"{op} {limit}", "met": met}
    return out


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    rows = []
    load = {"before": load_average(), "cpus": os.cpu_count()}
    for n in args.sizes:
        print(f"running the pipeline at {n:,} leads ...", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True
        )
        if child.returncode != 0:
            sys.exit(f"benchmark at {n:,} leads failed:\n{child.stdout}\n{child.stderr}")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    load["after"] = load_average()
    columns = {
        "leads": "n_leads",
        "pipeline s": "pipeline_seconds",
        "peak GiB": "peak_memory_gib",
        "bare fit s": "bare_fit_seconds",
        "ratio": "ratio",
        "training s": "model_fit_seconds",
        "fit ratio": "fit_ratio",
        "train stage s": "train_stage_seconds",
        "stage ratio": "train_stage_ratio",
        "start-up s": "startup_seconds",
        "test AUC": "test_auc",
        "oracle AUC": "oracle_auc",
    }
    print("\n" + " ".join(f"{name:>13}" for name in columns))
    for r in rows:
        r["train_stage_seconds"] = r["stage_seconds"].get("train", "-")
        r["train_stage_ratio"] = round(r["stage_seconds"]["train"] / r["bare_fit_seconds"], 2)
        print(" ".join(f"{r[key]:>13}" for key in columns.values()))
    print("\nseconds per stage:")
    for r in rows:
        print(
            f"{r['n_leads']:>10,}: " + ", ".join(f"{k} {v}" for k, v in r["stage_seconds"].items())
        )
    print(
        "\nratio = whole `dvc repro` wall time / bare fit of the chosen model on the same rows;"
        "\nfit ratio = training (candidates, choice, calibration, baseline) / bare fit;"
        "\nstage ratio = the train stage's process (reading, training, MLflow) / bare fit;"
        "\nstart-up = one stage process doing nothing (`leadscore --help`), paid by each of the"
        f"\n{len(rows[0]['stage_seconds']) if rows else 0} stages; load average (1, 5, 15 min) "
        f"before {load['before']}, after {load['after']} on {load['cpus']} CPUs"
    )
    goals = judge(rows)
    print("goals (ratios against the bare fit measured in this run):")
    for name, check in goals.items():
        mark = "met   " if check["met"] else "MISSED"
        print(f"  {mark} {name}: {check['figure']} (goal {check['goal']})")
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"load": load, "sizes": rows, "goals": goals}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
