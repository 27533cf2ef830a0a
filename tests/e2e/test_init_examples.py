"""`leadscore init` on the two public exports in ../shared/datasets: with only its TODOs answered
(as the owners of the hand-written examples answered them), the drafted project ends with the
same verdicts as the example: the same signal verdict, publish verdict, grade verdicts and the
same post-contact fields excluded. Both run with the same quick booster."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT
from stages import agree, run_stages
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.core.params_file import read_raw_params

DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
CASES = {
    "x-education": ("x-education", ["Leads.csv"]),
    "real-estate": (
        "real-estate-funnel",
        ["Leads.csv", "Customers.csv", "Properties.csv", "Agents.csv", "Sales.csv"],
    ),
}
STAGES = ("model_terms", "prepare", "ingest", "split", "train", "grade", "evaluate")
STAGES += ("importance", "contract")
# The contract keys init leaves to the owners (each a TODO in the drafted contract.yaml)
OWNERS_ANSWERS = ("owners", "grades", "excluded_fields", "allowed_fields", "publish_gate")
OWNERS_ANSWERS += ("profiles", "follow_up")


def quick(raw: dict) -> dict:
    """One boosting candidate (the first named one) and fewer rounds: a quick test run."""
    raw["train"]["max_iter"] = 80
    candidates = raw["train"]["search"]["boosting"]
    first = next(iter(candidates))
    raw["train"]["search"]["boosting"] = (
        {first: candidates[first]} if isinstance(candidates, dict) else candidates[:1]
    )
    return raw


def verdicts(root: Path) -> dict:
    contract = json.loads((root / "reports" / "contract.json").read_text())
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    flagged = json.loads((root / "reports" / "validation.json").read_text())["fields"]["flagged"]
    return {
        "signal": metrics["signal"]["usable"],
        "publishable": contract["publish_gate"]["publishable"],
        "grades": {g: row["verdicts"] for g, row in contract["grades"].items()},
        "excluded": sorted(
            n for n, f in flagged.items() if f["excluded"] and not re.match(r"(?i)lead_id$", n)
        ),
    }


def answer_todos(project: Path, example: Path) -> None:
    """The TODOs of contract.yaml answered as the example's owners did; nothing else edited."""
    drafted = yaml.safe_load((project / "contract.yaml").read_text())
    agreed = yaml.safe_load((example / "contract.yaml").read_text())["contract"]
    for key in OWNERS_ANSWERS:
        drafted["contract"][key] = agreed.get(key, drafted["contract"].get(key))
    drafted["contract"]["outcome"]["window_days"] = agreed["outcome"]["window_days"]
    (project / "contract.yaml").write_text(yaml.safe_dump(drafted, sort_keys=False))


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_ends_with_the_examples_verdicts(name, tmp_path, monkeypatch):
    folder, files = CASES[name]
    data = DATASETS / folder
    if not (data / files[0]).is_file():
        pytest.skip(f"the export is not at {data}")
    example = PROJECT_ROOT / "examples" / name
    # the hand-written example
    hand = tmp_path / "example"
    hand.mkdir()
    raw = read_raw_params(example / "params.yaml")  # with the example's contract.yaml
    for entry in raw["data"]["files"]:
        entry["path"] = str(data / entry["path"].rsplit("/", 1)[-1])
    (hand / "params.yaml").write_text(yaml.safe_dump(quick(raw), sort_keys=False))
    run_stages(hand, monkeypatch, STAGES)
    # the drafted project
    project = tmp_path / "init"
    result = CliRunner().invoke(
        app, ["init", *(str(data / f) for f in files), "--to", str(project)]
    )
    assert result.exit_code == 0, result.output
    todos = int(re.search(r"(\d+) TODOs to answer", result.output).group(1))
    params_todos = (project / "params.yaml").read_text().count("TODO:")
    print(f"{name}: {todos} TODOs ({params_todos} in params.yaml)")
    assert params_todos == 0  # the data section needed no answer
    answer_todos(project, example)
    shutil.rmtree(project / "agreement")
    agree(project)  # both owners approve the answered contract (demo keys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(quick(params), sort_keys=False))
    run_stages(project, monkeypatch, STAGES)
    assert verdicts(project) == verdicts(hand)
