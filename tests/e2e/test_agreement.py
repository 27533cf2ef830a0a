"""The agreement end to end, on a copy of the tiny project (real DVC, MLflow and server).

- An experiment on the contract goes into contract.proposal.yaml: contract.yaml stays byte for
  byte, and every output says PROPOSAL; the gate fails; the service refuses the model unless
  overridden, and then says so.
- A hand edit of contract.yaml is a proposal too: nothing claims the owners' agreement.
- Propose, preview, approve as each owner: the new version is agreed, the history holds both,
  and the preview's figures are those of a full run under the new contract, exactly.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import API_KEY, DVC, project_env, run

from leadscore.model.bundle import read_card
from leadscore.views.proposal import GRADE_FIGURES

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "agreement" / "demo-keys"
OWNERS = ("Dana Reyes, VP Sales", "Sam Okafor, VP Marketing")


@pytest.fixture()
def project(tiny_project, tmp_path) -> Path:
    """A private copy of the reproduced tiny project (its git repo and DVC cache included)."""
    copy = tmp_path / "project"
    shutil.copytree(tiny_project, copy, symlinks=True)
    return copy


def leadscore(project: Path, *args: str) -> str:
    return run([str(project / "bin" / "leadscore"), *args], project, project_env(project)).stdout


def report(project: Path, name: str) -> dict:
    return json.loads((project / "reports" / f"{name}.json").read_text())


def assert_nothing_claims_agreement(project: Path) -> None:
    contract = report(project, "contract")
    assert contract["agreement"]["status"] == "proposal"
    assert contract["agreement"]["headline"].startswith("PROPOSAL: not agreed")
    gate = contract["publish_gate"]
    assert not gate["publishable"] and not gate["checks"]["agreement"]["passed"]
    for path in ("reports/contract.md", "reports/report.html"):
        text = (project / path).read_text()
        assert "PROPOSAL: not agreed" in text, path
        assert "agreed by Dana Reyes" not in text, path
    scorecard = leadscore(project, "scorecard")
    assert "PROPOSAL: not agreed" in scorecard and "agreed by Dana" not in scorecard
    tags = mlflow_tags(project)
    assert tags["contract.agreement"] == "proposal"
    assert tags["contract.agreement_headline"].startswith("PROPOSAL: not agreed")
    assert tags["publish_gate.agreement"].startswith("FAIL")


def mlflow_tags(project: Path) -> dict[str, str]:
    """The tags of the served model's training run and of its registered version."""
    card = read_card(project / "models" / "model_card.json").to_record()["mlflow"]
    with sqlite3.connect(project / "mlflow.db") as db:
        run_tags = db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (card["run_id"],))
        tags = dict(run_tags.fetchall())
        version_tags = db.execute(
            "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
            (card["registered_model"], card["registered_version"]),
        ).fetchall()
    for key, value in version_tags:  # the registered version says the same
        assert tags.get(key, value) == value, key
    assert dict(version_tags)["contract.agreement"] == tags["contract.agreement"]
    return tags


def test_an_experiment_on_the_contract_is_a_proposal_everywhere(project, start_server):
    agreed_before = (project / "contract.yaml").read_bytes()
    trained = (project / "models" / "model.joblib").read_bytes()
    env = project_env(project)
    out = run(
        [
            DVC,
            "exp",
            "run",
            "-S",
            "contract.proposal.yaml:+contract.grades.A.max_leads_per_month=9",
        ],
        project,
        env,
    )
    assert (project / "contract.yaml").read_bytes() == agreed_before
    assert "Stage 'train' didn't change, skipping" in out.stdout  # re-graded, not re-trained
    assert (project / "models" / "model.joblib").read_bytes() == trained
    assert_nothing_claims_agreement(project)
    preview = report(project, "proposal")
    assert preview["open"] and preview["proposal"]["changes"] == [
        {"key": "contract.grades.A.max_leads_per_month", "from": 700, "to": 9}
    ]
    # the service refuses a model graded under a contract nobody agreed ...
    refused = start_server(project / "models", wait=False)
    assert refused.process.wait(90) != 0
    assert "graded under a contract that is not agreed" in refused.output()
    # ... unless told to serve it anyway, and then it says so
    server = start_server(project / "models", allow_unagreed_contract="true")
    ready = server.client.get("/readyz").json()
    assert ready["contract_agreement"] == "proposal" and ready["contract_override"] is True
    card = server.client.get("/v1/model", headers={"X-API-Key": API_KEY}).json()
    assert card["agreement"]["override"] is True and card["agreement"]["agreed"] is False
    assert card["agreement"]["headline"].startswith("PROPOSAL: not agreed")


def test_a_hand_edit_of_the_contract_is_not_agreed(project):
    path = project / "contract.yaml"
    path.write_text(
        path.read_text().replace("max_leads_per_month: 700", "max_leads_per_month: 1000")
    )
    run([DVC, "repro"], project, project_env(project))
    assert_nothing_claims_agreement(project)
    assert "approved by neither owner" in report(project, "contract")["agreement"]["headline"]


def test_propose_preview_approve_and_the_preview_equals_the_full_run(project):
    agreed_run = report(project, "contract")
    leadscore(project, "contract", "propose", "grades.A.max_leads_per_month=40", "--note", "test")
    leadscore(project, "contract", "preview")
    preview = report(project, "proposal")
    assert preview["open"] and preview["agreed"]["version"] == "2026.11-1"
    sides = preview["sides"]
    for grade, row in sides["agreed"]["grades"].items():  # the agreed side is the last run
        assert {k: row[k] for k in GRADE_FIGURES} == {
            k: agreed_run["grades"][grade][k] for k in GRADE_FIGURES
        }
    a_agreed, a_proposed = sides["agreed"]["grades"]["A"], sides["proposal"]["grades"]["A"]
    assert a_proposed["threshold"] > a_agreed["threshold"]  # a smaller capacity: a higher bar
    assert a_proposed["leads_per_month"] < a_agreed["leads_per_month"]
    # one owner alone does not make it agreed
    first = leadscore(
        project, "contract", "approve", "--as", "sales", "--key", str(DEMO / "sales.key")
    )
    assert "not agreed until Sam Okafor" in first
    assert "2026.11-1" in (project / "contract.yaml").read_text()
    second = leadscore(
        project, "contract", "approve", "--as", "marketing", "--key", str(DEMO / "marketing.key")
    )
    assert "agreed: version" in second
    history = leadscore(project, "contract", "history")
    assert "2026.11-1" in history and "contract.grades.A.max_leads_per_month: 700 -> 40" in history
    assert "max_leads_per_month: 40" in (project / "contract.yaml").read_text()
    run([DVC, "repro"], project, project_env(project))
    full = report(project, "contract")
    assert full["agreement"]["agreed"] and full["agreement"]["approved_by"] == [
        "sales",
        "marketing",
    ]
    for grade, row in sides["proposal"]["grades"].items():  # exactly the full run's figures
        assert {k: row[k] for k in GRADE_FIGURES} == {
            k: full["grades"][grade][k] for k in GRADE_FIGURES
        }
    assert report(project, "proposal")["open"] is False
    assert mlflow_tags(project)["contract.agreement"] == "agreed"
