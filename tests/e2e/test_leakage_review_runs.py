"""The leakage review in runs of the pipeline: an in-contact field blocks publishing until the
contract signs it off (the stage mains in-process on a CSV export), and the built-in run (the
tiny project, `dvc repro`) shows the review and signs off its fields."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from exports import export_frame
from stages import files_params, run_stages
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.data.leakage import EXCLUDED, REVIEW


def scorecard_lines(reports: Path) -> dict[str, str]:
    """The printed scorecard (as `leadscore scorecard` prints it): figure -> the rest of its row."""
    printed = CliRunner().invoke(app, ["scorecard", "--reports", str(reports), "--width", "200"])
    assert printed.exit_code == 0, printed.output
    rows = {}
    for line in printed.output.splitlines():
        cells = [" ".join(cell.split()) for cell in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[0]:
            rows.setdefault(cells[0], " ".join(cells[1:]))  # the first row of a figure
    return rows


PIPELINE = ("prepare", "ingest", "split", "train", "grade", "evaluate", "importance", "contract")


def leak_contract(raw: dict, allowed: list) -> dict:
    """A contract for the export below: promises fit for a base rate of about 60 %."""
    contract = raw["contract"]
    contract["grades"] = {
        "A": {"min_conversion": 0.85, "max_leads_per_month": 100},
        "B": {"min_conversion": 0.6},
        "C": {"min_conversion": 0.4},
    }
    contract["excluded_fields"] = []
    contract["allowed_fields"] = allowed
    contract["profiles"] = {
        "marketing": {"match": "all", "rules": [{"field": "page_views", "op": "ge", "value": 7}]},
        "sales": {"match": "all", "rules": [{"field": "Source", "op": "eq", "value": "event"}]},
    }
    return raw


def export_data() -> dict:
    return {
        "source": "files",
        "files": [{"path": "leads.csv"}],
        "id_column": "Lead Key",
        "created_column": "Created",
        "outcome": {"column": "Converted", "positive_values": ["yes"], "won_date_column": None},
    }


EARLIER = [
    {"field": "previous_campaign_outcome", "reason": "the previous campaign ended before"},
    {"field": "meeting_room", "reason": "the room of the webinar the lead signed up for"},
]


def test_an_in_contact_field_blocks_publishing_until_the_contract_signs_it_off(
    tmp_path, default_params_raw, monkeypatch
):
    """The acceptance fixture, at a base rate of about 60 % (where a lift of 2.0 is impossible)."""
    export_frame(5000, seed=11, intercept=0.25).to_csv(tmp_path / "leads.csv", index=False)
    raw = leak_contract(files_params(default_params_raw, export_data()), EARLIER)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    run_stages(tmp_path, monkeypatch, PIPELINE)

    contract = json.loads((tmp_path / "reports" / "contract.json").read_text())
    assert 0.55 < contract["base_rate"] < 0.65 and 2.0 * contract["base_rate"] > 1
    call = contract["field_review"]["fields"]["call_minutes"]
    assert 0.75 <= call["single_field_auc"] <= 0.85 and call["input"]
    assert call["importance_share"] > 0.5, call["importance_share"]
    assert call["verdict"] == REVIEW and call["awaiting_sign_off"]
    assert any(r.startswith("dominates the model") for r in call["reasons"])
    for name in ("meeting_room", "previous_campaign_outcome"):
        row = contract["field_review"]["fields"][name]
        assert row["verdict"] == REVIEW and row["input"] and row["allowed_by_contract"], name
    gate = contract["publish_gate"]
    assert not gate["publishable"]
    failed = [name for name, check in gate["checks"].items() if not check["passed"]]
    assert failed == ["fields_under_review"]
    assert gate["checks"]["fields_under_review"]["actual"] == ["call_minutes"]
    assert gate["checks"]["odds_ratio_over_base_rate"]["actual"] > 2.5  # ranks well at 60 %
    markdown = (tmp_path / "reports" / "contract.md").read_text()
    assert "## Leakage review" in markdown and "| call_minutes | numeric |" in markdown
    assert "BLOCKS publishing" in markdown and "odds that an A lead converts" in markdown
    # The scorecard says it first, naming the field, beside the AUC that alone looks fine:
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    scorecard = scorecard_lines(tmp_path / "reports")
    assert scorecard["publishable"] == "NO fields under review: call_minutes"
    assert scorecard["fields under review"] == (
        "1 no sign-off in contract.allowed_fields: call_minutes"
    )
    assert {"grade A", "grade B", "grade C", "grade D"} <= set(scorecard)  # one line each
    assert scorecard["model AUC (test)"].split()[0] == f"{metrics['roc_auc']:.4f}"

    # Both owners sign the call length off (say the dialler logs it before the score is due):
    signed = [*EARLIER, {"field": "call_minutes", "reason": "logged before scoring"}]
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump(leak_contract(raw, signed), sort_keys=False)
    )
    run_stages(tmp_path, monkeypatch, ("contract",))
    contract = json.loads((tmp_path / "reports" / "contract.json").read_text())
    assert contract["publish_gate"]["publishable"]
    assert scorecard_lines(tmp_path / "reports")["publishable"].startswith("yes every check")
    assert contract["field_review"]["fields"]["call_minutes"]["allowed_reason"] == (
        "logged before scoring"
    )


def test_the_built_in_run_shows_the_review_and_signs_off_its_fields(tiny_project: Path):
    contract = json.loads((tiny_project / "reports" / "contract.json").read_text())
    review = contract["field_review"]["fields"]
    assert review["sales_status"]["verdict"] == EXCLUDED and not review["sales_status"]["input"]
    for name in ("website_visits", "pages_per_visit", "pricing_page_visits",
                 "days_since_last_activity"):  # fmt: skip
        assert review[name]["verdict"] == REVIEW and review[name]["allowed_by_contract"], name
    assert contract["publish_gate"]["checks"]["fields_under_review"]["passed"]
    html = (tiny_project / "reports" / "report.html").read_text()
    assert "the leakage review" in html and "days_since_last_activity" in html
    assert "<b>Signed off:</b> days since the lead&#39;s own last web" in html
