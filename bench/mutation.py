"""Mutation testing of the modules that hold the product's promises: `make mutation`.

Runs mutmut (pinned in the dev extra; its settings are `[tool.mutmut]` in pyproject.toml: which
modules it mutates and which tests it may run), then prints the share of mutants the tests kill in
each module, against the goal, and every surviving mutant by name. `mutmut show <name>` prints a
survivor's diff. docs/mutation.md lists the survivors judged equivalent or left, with why.

Writes bench/results/mutation.json. Not part of `make test`: a full run takes 1.5-2 h on two
cores. To measure one module, run `.venv/bin/mutmut run "leadscore.core.outcome*"` (globs of
mutant names), then `--report-only`: modules whose mutants did not run are reported NOT RUN.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")
RESULTS = ROOT / "bench" / "results" / "mutation.json"
GOAL = 0.85  # share of mutants killed in each module
KILLED = {"killed", "timeout"}  # a timeout is a mutant the tests stopped (an endless loop)
NOT_RUN = {"not checked", "skipped"}
LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_(?P<number>\d+): (?P<status>.+?)\s*$")


def module_of(function: str) -> str:
    """`leadscore.core.outcome.x_window_end` or `...xǁClassǁmethod` -> `leadscore.core.outcome`."""
    if ".xǁ" in function:
        return function.split(".xǁ")[0]
    return function.rsplit(".", 1)[0]


def read_results(text: str) -> dict[str, Counter[str]]:
    """`mutmut results --all true` output -> statuses counted per module, plus survivor names."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            by_module[module_of(match["name"])][match["status"]] += 1
    return by_module


def survivors(text: str) -> dict[str, list[str]]:
    """Names of the mutants the tests did not kill, per module."""
    found: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        match = LINE.match(line)
        if match and match["status"] not in KILLED | NOT_RUN:
            name = f"{match['name']}__mutmut_{match['number']}"
            found[module_of(match["name"])].append(f"{name} ({match['status']})")
    return found


def ran(statuses: Counter[str]) -> int:
    """Mutants that ran (a mutant no test reaches counts as run, and surviving)."""
    return sum(count for status, count in statuses.items() if status not in NOT_RUN)


def kill_rate(statuses: Counter[str]) -> float:
    """Killed among the mutants that ran; a mutant no test reaches counts as surviving."""
    return sum(statuses[status] for status in KILLED) / ran(statuses) if ran(statuses) else 0.0


def report(text: str) -> tuple[list[dict], bool]:
    rows, all_met = [], True
    left = survivors(text)
    for module, statuses in sorted(read_results(text).items()):
        rate = kill_rate(statuses)
        met = ran(statuses) > 0 and rate >= GOAL  # a module none of whose mutants ran: not met
        all_met &= met
        rows.append(
            {
                "module": module,
                "mutants": sum(statuses.values()),
                "ran": ran(statuses),
                "killed": sum(statuses[status] for status in KILLED),
                "statuses": dict(statuses),
                "kill_rate": round(rate, 4),
                "goal": GOAL,
                "met": met,
                "survivors": left.get(module, []),
            }
        )
    return rows, all_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-only", action="store_true", help="read the last run's results")
    parser.add_argument(
        "--resume", action="store_true", help="continue the last run (same source tree)"
    )
    arguments = parser.parse_args()
    if not arguments.report_only:
        if not arguments.resume:  # mutmut copies the tree once: start from today's code
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        run = subprocess.run([str(MUTMUT), "run"], cwd=ROOT, check=False)
        if run.returncode != 0:  # survivors are not an error; a failed clean run is
            print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
            return run.returncode
    text = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows, all_met = report(text)
    if not rows:
        print("no mutmut results: run `make mutation` first", file=sys.stderr)
        return 2
    print(f"\n{'module':45} {'mutants':>8} {'ran':>6} {'killed':>7} {'rate':>7}  goal {GOAL:.0%}")
    for row in rows:
        verdict = "met" if row["met"] else "MISSED" if row["ran"] else "NOT RUN"
        print(
            f"{row['module']:45} {row['mutants']:>8} {row['ran']:>6} {row['killed']:>7} "
            f"{row['kill_rate']:>7.1%}  {verdict}"
        )
    for row in rows:
        if row["survivors"]:
            print(f"\nsurvivors in {row['module']} (`mutmut show NAME` for the diff):")
            for name in row["survivors"]:
                print(f"  {name}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"goal": GOAL, "modules": rows}, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}; every module met: {'yes' if all_met else 'NO'}")
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
