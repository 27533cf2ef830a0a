"""Issue 17: sales' follow-up view, the A-miss attribution in the monthly feedback, marketing's
credit (reconciled exactly with the contract view), and an export's optional follow-up keys."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stages import files_params, run_stages

from leadscore.core import fields
from leadscore.core.config import parse_params
from leadscore.core.data_params import FollowUpColumns
from leadscore.views.credit import credit_report
from leadscore.views.feedback import monthly_feedback
from leadscore.views.follow_up import LATE, NEVER, PROMPT, follow_up_report

NO_FOLLOW_UP = FollowUpColumns(None, None, None)


def leads_frame(rows: list[tuple]) -> pd.DataFrame:
    """(created, grade, business hours to contact or None, converted, deal value) per lead;
    created on Mondays, so business hours start at 9:00 of that day."""
    created = pd.to_datetime([r[0] for r in rows])
    hours = pd.Series([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
    days, rest = np.floor(hours / 9), hours - 9 * np.floor(hours / 9)
    contact = [
        pd.NaT
        if np.isnan(h)
        else pd.Timestamp(np.busday_offset(c.date(), int(d))) + pd.Timedelta(hours=9 + r)
        for c, h, d, r in zip(created, hours, days, rest, strict=True)
    ]
    return pd.DataFrame(
        {
            fields.LEAD_ID: [f"L{i}" for i in range(len(rows))],
            fields.CREATED_AT: created,
            "grade": [r[1] for r in rows],
            fields.FIRST_CONTACT_AT: contact,
            fields.CONVERTED: [r[3] for r in rows],
            fields.DEAL_VALUE: [r[4] if r[3] else np.nan for r in rows],
            fields.CHANNEL: ["webinar", "email"] * (len(rows) // 2) + ["webinar"] * (len(rows) % 2),
            fields.CAMPAIGN: "c1",
        }
    )


@pytest.fixture(scope="module")
def contract(default_params_raw):
    return parse_params(default_params_raw).contract


def test_follow_up_view_counts_promises_speed_and_the_cost_of_slow_follow_up(contract):
    # 20 A leads: 10 within 24 business hours (8 won), 6 late (3 won), 4 never (none won)
    rows = [("2026-06-01", "A", 5.0, i < 8, 10_000.0) for i in range(10)]
    rows += [("2026-06-01", "A", 30.0, i < 3, 10_000.0) for i in range(6)]
    rows += [("2026-06-01", "A", None, False, 0.0) for _ in range(4)]
    rows += [("2026-06-08", "B", 50.0, False, 0.0) for _ in range(10)]
    report = follow_up_report(leads_frame(rows), contract)
    assert report["missing"] == []
    a24, a45 = report["promises"]["A"]
    assert (a24["hits"], a24["leads"], a24["share"]) == (10, 20, 0.5)
    assert a24["verdict"] == "not kept" and a24["share_ci_high"] < 0.95
    assert "clearly below the promise" in a24["note"]
    assert a45["hits"] == 16 and a45["share"] == 0.8
    assert report["promises"]["B"][0]["share"] == 0.0
    june = report["months"][0]
    assert june["month"] == "2026-06"
    assert june["grades"]["A"]["never_worked_share"] == 0.2
    assert june["grades"]["A"]["median_hours_to_contact"] == 5.0
    assert june["grades"]["A"]["within_promise"] == [0.5, 0.8]
    cost = report["a_cost"]
    groups = cost["groups"]
    assert [groups[g]["leads"] for g in (PROMPT, LATE, NEVER)] == [10, 6, 4]
    assert [groups[g]["conversions"] for g in (PROMPT, LATE, NEVER)] == [8, 3, 0]
    assert cost["deals_lost"] == pytest.approx(10 * 0.8 - 3)  # 10 slow leads at 80 %
    assert cost["revenue_lost"] == pytest.approx(5 * 10_000.0)


def test_follow_up_view_names_the_key_it_misses(contract):
    frame = leads_frame([("2026-06-01", "A", 5.0, True, 1.0)] * 2)
    report = follow_up_report(frame, contract, NO_FOLLOW_UP)
    assert [m["key"] for m in report["missing"]] == ["data.first_contact_column"]
    assert "set data.first_contact_column" in report["missing"][0]["message"]


def test_feedback_attributes_an_a_miss_to_lead_quality_or_to_follow_up(contract):
    # June: every A lead worked at once, 10 % convert -> lead quality.
    rows = [("2026-06-01", "A", 2.0, i < 4, 1.0) for i in range(40)]
    # July: worked A leads convert 70 %, but half were never worked -> follow-up.
    rows += [("2026-07-06", "A", 2.0, i < 14, 1.0) for i in range(20)]
    rows += [("2026-07-06", "A", None, False, 1.0) for _ in range(20)]
    rows += [("2026-06-01", "B", 2.0, i < 15, 1.0) for i in range(40)]
    rows += [("2026-07-06", "B", 2.0, i < 15, 1.0) for i in range(40)]
    frame = leads_frame(rows)
    report = monthly_feedback(frame, contract, pd.Timestamp("2026-12-31"))
    june, july = report["months"]
    assert june["grades"]["A"]["below_promise"] and july["grades"]["A"]["below_promise"]
    assert june["a_miss"].startswith("lead quality: 40 A leads worked within the promise")
    assert july["a_miss"].startswith("follow-up: 20 A leads worked within the promise converted")
    assert "50% of A leads were worked late or never" in july["a_miss"]
    blind = monthly_feedback(frame, contract, pd.Timestamp("2026-12-31"), follow_up=NO_FOLLOW_UP)
    assert "set data.first_contact_column" in blind["months"][0]["a_miss"]


def test_credit_reconciles_exactly_with_the_contract_view(contract):
    rows = [("2026-06-01", "A", 3.0, i % 2 == 0, 5_000.0) for i in range(9)]
    rows += [("2026-07-06", "B", None, False, 0.0) for _ in range(5)]
    rows += [("2026-07-06", "D", 3.0, True, 2_000.0)]
    frame = leads_frame(rows)
    frame.loc[3, fields.CHANNEL] = None  # a lead without a channel still counts
    costs = pd.DataFrame({"channel": ["webinar", "email"], "cost_per_lead": [100.0, 10.0]})
    totals = {"leads": 15, "conversions": 6, "grades": {"A": {"leads": 9, "conversions": 5}}}
    report, table = credit_report(frame, costs, totals)
    assert report["reconciliation"]["reconciled"]
    assert table["a_won_revenue"].sum() == 25_000.0 and table["won_revenue"].sum() == 27_000.0
    assert table["a_worked"].sum() == 9 and table["worked"].sum() == 10
    june = table[table["month"] == "2026-06"].set_index("channel")
    assert june.loc["webinar", "cost_per_won_a_deal"] == 5 * 100 / 5  # 5 leads, 5 won
    assert np.isnan(june.loc["email", "cost_per_won_a_deal"])  # nothing won: no ratio
    assert june.loc["(not given)", "leads"] == 1
    wrong = {**totals, "conversions": 7}
    assert not credit_report(frame, costs, wrong)[0]["reconciliation"]["reconciled"]


def test_the_pipeline_publishes_follow_up_and_credit_that_reconcile(tiny_project):
    reports = tiny_project / "reports"
    contract = json.loads((reports / "contract.json").read_text())
    credit = pd.read_csv(reports / "credit.csv")
    assert credit[["month", "channel", "campaign"]].duplicated().sum() == 0
    assert int(credit["leads"].sum()) == contract["leads"]
    assert int(credit["won"].sum()) == contract["conversions"]
    assert int(credit["a_leads"].sum()) == contract["grades"]["A"]["leads"]
    assert int(credit["a_won"].sum()) == contract["grades"]["A"]["conversions"]
    assert json.loads((reports / "credit.json").read_text())["reconciliation"]["reconciled"]
    follow_up = json.loads((reports / "follow_up.json").read_text())
    assert [p["verdict"] in ("kept", "not kept") for p in follow_up["promises"]["A"]] == [True] * 2
    assert follow_up["a_cost"]["groups"]["within the promise"]["leads"] > 0
    card = json.loads((tiny_project / "models/model_card.json").read_text())
    inputs = {name for names in card["features"].values() for name in names}
    assert not inputs & {fields.FIRST_CONTACT_AT, fields.SALES_TOUCHES, fields.OWNER}
    page = html.unescape((reports / "report.html").read_text())
    for text in (
        "Sales' follow-up: how fast and how fully sales worked each grade",
        "Marketing's credit: what marketing delivered and sales won",
        "Reconciliation with the contract view: exact",
        "Slow follow-up cost about",
    ):
        assert text in page, text


def export_with_follow_up(path: Path, n: int = 3000, seed: int = 17) -> None:
    """An export with dates, a channel, a first-call column and a rep, under its own names."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-06") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    visits = rng.poisson(3, n)
    called = rng.random(n) < 0.85
    call = created + pd.to_timedelta(rng.exponential(30, n), unit="h")
    logit = -2.0 + 0.4 * visits + 1.0 * called
    won = called & (rng.random(n) < 1 / (1 + np.exp(-logit)))
    pd.DataFrame(
        {
            "Ref": [f"R{i:05d}" for i in range(n)],
            "Created": created.astype(str),
            "Visits": visits,
            "Source": rng.choice(["web", "event", "partner"], n),
            "First Call": np.where(called, call.strftime("%Y-%m-%d %H:%M"), ""),
            "Rep": np.where(called, rng.choice(["ana", "bo", "cy"], n), ""),
            "Outcome": np.where(won, "yes", "no"),
        }
    ).to_csv(path, index=False)


def test_an_export_maps_its_follow_up_columns_through_data_keys(
    tmp_path, default_params_raw, monkeypatch
):
    export_with_follow_up(tmp_path / "leads.csv")
    data = {
        "source": "files",
        "files": [{"path": "leads.csv"}],
        "id_column": "Ref",
        "created_column": "Created",
        "channel_column": "Source",
        "first_contact_column": "First Call",
        "owner_column": "Rep",
        "outcome": {"column": "Outcome", "positive_values": ["yes"]},
    }
    (tmp_path / "params.yaml").write_text(json.dumps(files_params(default_params_raw, data)))
    stages = ("prepare", "ingest", "split", "train", "grade", "evaluate", "contract")
    run_stages(tmp_path, monkeypatch, (*stages, "follow_up", "credit"))
    reports = tmp_path / "reports"
    inputs = json.loads((reports / "validation.json").read_text())["fields"]["inputs"]
    assert "Visits" in inputs and not {fields.FIRST_CONTACT_AT, fields.OWNER} & set(inputs)
    follow_up = json.loads((reports / "follow_up.json").read_text())
    assert [m["key"] for m in follow_up["missing"]] == ["data.value_column"]  # for revenue only
    assert follow_up["months"] and follow_up["a_cost"]["revenue_lost"] is None
    grades = [g for g in follow_up["grades"].values() if g["leads"]]
    never = sum(g["never_worked_share"] * g["leads"] for g in grades) / sum(
        g["leads"] for g in grades
    )
    assert 0.05 < never < 0.3  # 15 % of the export's leads were never called
    credit = json.loads((reports / "credit.json").read_text())
    assert credit["reconciliation"]["reconciled"]
    assert credit["totals"]["worked"] < credit["totals"]["leads"]
    assert {m["key"] for m in credit["missing"]} == {"data.value_column", "data.cost_column"}
