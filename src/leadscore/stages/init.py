"""`leadscore init <files...>`: a project folder that `dvc repro` runs, drafted from the export.

leadscore.data.profile drafts the choices; this module writes them as a commented params.yaml
and contract.yaml (every choice with its reason, `TODO` where a person must choose), the
pipeline (dvc.yaml of the code it runs), an empty proposal, the agreement folder (no keys nor
approvals yet: the run says "PROPOSAL: not agreed" until both owners approve), and DVC itself:
`dvc init --no-scm` outside a git repository (`[core] no_scm = true`), `--subdir` inside one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from leadscore.core.io import write_text
from leadscore.data.config_draft import draft
from leadscore.data.profile import Draft

log = logging.getLogger(__name__)

CODE_ROOT = Path(__file__).resolve().parents[3]  # the checkout: src/, bin/, dvc.yaml
KEPT_SECTIONS = (
    "ingest", "split", "train", "grade", "evaluate", "warnings", "importance", "promotion",
    "funnel", "mlflow",
)  # fmt: skip
TODO = "TODO"


class InitError(ValueError):
    """The folder cannot be written (it already holds a project)."""


def q(value) -> str:
    """A YAML scalar (JSON is YAML 1.2)."""
    return json.dumps(value, ensure_ascii=False)


def sections(text: str) -> dict[str, str]:
    """params.yaml's top-level sections, each with the comment lines just above it."""
    blocks: dict[str, str] = {}
    pending: list[str] = []
    name = None
    for line in text.splitlines(keepends=True):
        top = re.match(r"^([a-z_]+):", line)
        if top:
            name = top.group(1)
            blocks[name] = "".join(pending) + line
            pending = []
        elif line.startswith("#") or not line.strip():
            pending.append(line)
        elif name:
            blocks[name] += "".join(pending) + line
            pending = []
    return blocks


def files_text(d: Draft, folder: Path) -> list[str]:
    lines = ["  files:"]
    joins = {j.path: j for j in d.joins}
    for index, profile in enumerate(d.files):
        path = str(profile.path.resolve())  # relative when the export is inside the folder
        if profile.path.resolve().is_relative_to(folder.resolve()):
            path = os.path.relpath(path, folder.resolve())
        lines.append(
            f"  - path: {q(path)}  # {profile.rows:,} rows, {len(profile.columns)} columns"
        )
        if profile.sep is not None:
            lines.append(
                f"    sep: {q(profile.sep)}         # detected delimiter"
                f"\n    encoding: {q(profile.encoding)}  # detected encoding"
            )
        if index == 0:
            continue
        join = joins.get(profile.path)
        if join is None:
            lines.append(f"    join_on: null  # {TODO}: the key shared with the leads table")
            continue
        others = ", ".join(
            f"{k} {v:.0%}" for k, v in join.candidates.items() if k != join.key and v > 0
        )
        lines.append(
            f"    join_on: {q(join.key)}  # {join.coverage:.1%} of leads find a row"
            + (f" (other shared keys: {others})" if others else "")
        )
        unmatched = 1 - join.coverage
        if unmatched > 0.05:
            limit = min(1.0, (int(unmatched * 100) + 1) / 100)
            lines.append(
                f"    max_unmatched_share: {limit}  # {unmatched:.1%} of leads have no row here"
                " (a table of won deals only covers the won leads)"
            )
    return lines


def outcome_text(d: Draft) -> list[str]:
    o = d.outcome
    lines = ["  outcome:"]
    if o.column is None:
        question = next(t.question for t in d.todos if t.key == "data.outcome.column")
        lines.append(f"    column: null  # {TODO}: {question}")
        return lines
    lines.append(f"    column: {q(o.column)}  # {d.reasons['outcome']}")
    counts = o.counts
    if o.positive_values:
        lines.append(f"    positive_values: {q(o.positive_values)}  # values: {q(counts)}")
    else:
        for name, values in (("won", o.won), ("lost", o.lost), ("open", o.open)):
            shown = ", ".join(f"{v} {counts.get(v, 0):,}" for v in values)
            todo = f" {TODO}: which values are lost?" if name == "lost" and not values else ""
            lines.append(f"    {name}_values: {q(values)}  # {shown or 'none'}{todo}")
    lines.append(
        f"    won_date_column: {q(o.won_date_column)}"
        + ("  # the date a deal was won: a win after the outcome window is a negative"
           if o.won_date_column else "")
    )  # fmt: skip
    return lines


def data_text(d: Draft, folder: Path) -> str:
    leaks = "; ".join(f"{c} ({', '.join(cues)})" for c, cues in d.leakage_fields.items())
    lines = [
        "# The CRM export, as `leadscore init` profiled it: every choice says why; check the",
        f"# lines marked {TODO}. docs/own-data.md explains each key.",
        "data:",
        "  source: files",
        *files_text(d, folder),
        f"  missing_values: {q(d.missing_values)}  # values that mean 'not answered'",
        f"  id_column: {q(d.id_column)}  # {d.reasons['id_column']}",
        f"  created_column: {q(d.created_column)}  # {d.reasons['created_column']}",
        "  rows_in_time_order: false  # no creation date but rows oldest first: true",
        f"  export_months: {max(1, round(d.months)) if d.months else 12}"
        "  # months the export covers",
        "  max_unmatched_share: 0.05",
        *outcome_text(d),
        "  types: {}  # typing overrides: {column: categorical|numeric|boolean|date}",
        "  exclude: []",
        "  # The leakage review looks at every field; by name alone these look set by sales' work",
        f"  # (it also measures each field's strength): {leaks or 'none'}",
        "  leakage: {max_single_field_auc: 0.85, review_single_field_auc: 0.75,"
        " max_importance_share: 0.5, review_recent_auc_lower_bound: 0.6, folds: 5}",
        f"  channel_column: {q(d.channel_column)}",
        f"  campaign_column: {q(d.campaign_column)}",
        f"  value_column: {q(d.value_column)}  # value of a won deal (never a model input)",
        f"  cost_column: {q(d.cost_column)}  # marketing cost of a lead (never a model input)",
    ]
    return "\n".join(lines) + "\n"


def params_text(d: Draft, folder: Path, base: str) -> str:
    """The drafted data section between the project's own sections (with their comments)."""
    blocks = sections(base)
    head = (
        "# leadscore parameters drafted by `leadscore init` from the export; the contract is in\n"
        "# contract.yaml. Run `dvc repro` here; `leadscore scorecard` prints the result.\n"
        f"project_dir: {q(str(CODE_ROOT))}  # the leadscore code the stages run\n"
        "generate: {n_leads: 200000, months: 24, export_date: '2026-10-31', seed: 42}"
        "  # unused (files)\n\n"
    )
    kept = "".join(blocks[s] for s in KEPT_SECTIONS)
    if d.split_months:
        valid, test = d.split_months
        kept = re.sub(r"valid_months: \d+", f"valid_months: {valid}", kept, count=1)
        kept = re.sub(
            r"test_months: \d+",
            f"test_months: {test}  # drafted: {d.reasons['split']}",
            kept,
            count=1,
        )
    elif any(t.key == "split" for t in d.todos):
        todo = next(t for t in d.todos if t.key == "split")
        kept = kept.replace("split:\n", f"split:  # {TODO}: {todo.question}\n", 1)
    return head + data_text(d, folder) + "\n" + kept


def promise(rate: float | None, factor: float, floor: float) -> float:
    return round(min(0.95, max(floor, (rate or 0.1) * factor)), 2)


def contract_text(d: Draft) -> str:
    base = d.base_rate
    per_month = None
    if d.months and d.files:
        per_month = d.files[0].rows / d.months
    capacity = max(10, round((per_month or d.files[0].rows / 12) * 0.1))
    profile_field = d.channel_column or (d.files[0].columns[0] if d.files else "channel")
    what = (
        f"{d.outcome.column} is one of {q(d.outcome.won or d.outcome.positive_values[-1:])}"
        if d.outcome.column
        else "a deal is won within the outcome window"
    )
    rate = f"{base:.1%}" if base is not None else "unknown"
    return f"""# The A-lead contract, drafted by `leadscore init`: sales and marketing own it.
# Answer the {TODO}s, then each owner approves it with their own key (docs/contract.md):
#   leadscore contract keygen --as sales --out ~/.leadscore/sales.key   (and marketing)
#   leadscore contract approve --as sales --key ~/.leadscore/sales.key  (and marketing)
# Until both approve, every report says "PROPOSAL: not agreed" and no model is served.
contract:
  version: "draft-1"
  owners:
    sales: "{TODO}: the head of sales' name, as they sign"
    marketing: "{TODO}: the head of marketing's name, as they sign"
  currency: {q(d.currency)}  # of every amount in the export and the reports
  outcome:
    converted_when: {q(what)}
    window_days: 90  # {TODO}: the days within which a lead counts as won (a sales cycle)
  # {TODO}: the promises of the grades. Drafted from the base rate of the export ({rate} of
  # decided leads won): A about 3x, B 1.5x, C 0.75x.
  grades:
    A:
      min_conversion: {promise(base, 3, 0.2)}
      max_leads_per_month: {capacity}  # {TODO}: sales' capacity (drafted: 10 % of leads)
    B:
      min_conversion: {promise(base, 1.5, 0.1)}
    C:
      min_conversion: {promise(base, 0.75, 0.05)}
""" + review_gate_profiles_text(profile_field)


def review_gate_profiles_text(profile_field: str) -> str:
    """The contract draft's leakage sign-off, publish gate, profiles (drafted on
    `profile_field` so that the run works) and follow-up promises."""
    review = f"  # {TODO}: after the first run, reports/leakage.json names the fields under review:"
    return f"""{review} exclude
  # each here, or allow it below with the reason it is known before sales' contact.
  excluded_fields: []
  allowed_fields: []
  # {TODO}: the evidence both owners want on the test period before a model is served.
  publish_gate:
    min_positives: 100
    min_negatives: 100
    min_auc_lower_bound: 0.55
    min_odds_ratio_over_base_rate: 2.5
    min_margin_over_best_profile: 0.0
  # {TODO}: each side's picture of the ideal lead (field, op, value); drafted on
  # {profile_field} so that the run works.
  profiles:
    marketing:
      description: "{TODO}: marketing's ideal lead"
      match: all
      rules:
        - {{field: {q(profile_field)}, op: present}}
    sales:
      description: "{TODO}: sales' ideal lead"
      match: all
      rules:
        - {{field: {q(profile_field)}, op: present}}
  follow_up:
    promises: {{}}
"""


PROPOSAL = """# The open proposal to change the agreed contract (contract.yaml): only the keys it
# changes. Empty: no proposal. See docs/contract.md.
contract: {}
"""


def inside_git(folder: Path) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def dvc_init(folder: Path) -> str:
    """DVC in the folder: a subdirectory of a git repository, else without git (no_scm)."""
    dvc = Path(sys.executable).with_name("dvc")
    in_git = shutil.which("git") is not None and inside_git(folder)
    flag = "--subdir" if in_git else "--no-scm"
    subprocess.run([str(dvc), "init", "-q", flag], cwd=folder, check=True)
    return "a DVC project inside the git repository" if in_git else "DVC without git (no_scm)"


def count_todos(folder: Path) -> int:
    """The choices left to a person: each `TODO:` in params.yaml and contract.yaml."""
    return sum(
        (folder / name).read_text().count(f"{TODO}:") for name in ("params.yaml", "contract.yaml")
    )


def main(paths: list[Path], folder: Path) -> dict:
    """Write the project folder for the export `paths` (the leads table first)."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "params.yaml").exists() or (folder / "dvc.yaml").exists():
        raise InitError(f"{folder} already holds a project (params.yaml or dvc.yaml)")
    d = draft([Path(p) for p in paths])
    base = (CODE_ROOT / "params.yaml").read_text(encoding="utf-8")
    write_text(folder / "params.yaml", params_text(d, folder, base))
    write_text(folder / "contract.yaml", contract_text(d))
    write_text(folder / "contract.proposal.yaml", PROPOSAL)
    shutil.copy(CODE_ROOT / "dvc.yaml", folder / "dvc.yaml")
    keys = folder / "agreement" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    write_text(keys / "README", "The owners' public keys: leadscore contract keygen.\n")
    write_text(folder / "agreement" / "approvals.yaml", "approvals: []\n")
    write_text(folder / "agreement" / "history.yaml", "versions: []\n")
    how = dvc_init(folder) if not (folder / ".dvc").exists() else "DVC already set up"
    todos = count_todos(folder)
    log.info("init: %s: %d TODOs to answer; %s", folder, todos, how)
    return {"folder": str(folder), "todos": todos, "dvc": how, "draft": d}
