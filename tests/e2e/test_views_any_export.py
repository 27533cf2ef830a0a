"""The views build for every export: what an export lacks is named with the key that provides it,
and an export's per-lead cost and won value feed the funnel.

Each test runs the pipeline's stage mains in-process on a small CSV export, as `dvc repro` would.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stages import files_params, run_stages

VIEW_STAGES = ("contract", "align", "funnel", "feedback", "report")
PIPELINE = ("prepare", "ingest", "split", "train", "grade", "evaluate")


def bare_export(path: Path, n: int = 3000, seed: int = 11) -> None:
    """An export with an id, three inputs and a yes/no outcome: no channel, cost, value, dates."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n)
    region = rng.choice(["north", "south", "east"], n)
    logit = -1.6 + 0.35 * visits + 0.6 * (region == "north")
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    pd.DataFrame(
        {
            "Ref": [f"R{i:05d}" for i in range(n)],
            "Visits": visits,
            "Pages": np.round(rng.gamma(2.0, 1.5, n), 1),
            "Region": region,
            "Outcome": np.where(won, "yes", "no"),
        }
    ).to_csv(path, index=False)


def test_an_export_without_channel_costs_value_or_dates_builds_every_view(
    tmp_path, default_params_raw, monkeypatch
):
    bare_export(tmp_path / "leads.csv")
    data = {
        "source": "files",
        "files": [{"path": "leads.csv"}],
        "id_column": "Ref",
        "created_column": None,
        "outcome": {"column": "Outcome", "positive_values": ["yes"]},
    }
    raw = files_params(default_params_raw, data)
    (tmp_path / "params.yaml").write_text(json.dumps(raw))  # JSON is YAML
    run_stages(tmp_path, monkeypatch, PIPELINE + VIEW_STAGES)

    reports = tmp_path / "reports"
    funnel = json.loads((reports / "funnel.json").read_text())
    assert list(funnel["channels"]) == ["all leads"]
    assert funnel["cost_source"] is None and funnel["plan"]["deals_needed"] is None
    feedback = json.loads((reports / "feedback.json").read_text())
    assert feedback["months"] == [] and feedback["as_of"] is None
    # the default contract's profiles name fields (demo_requested, seniority, ...) it lacks
    align = json.loads((reports / "align.json").read_text())
    assert [gap["key"] for gap in align["missing"]] == [
        "contract.profiles.marketing",
        "contract.profiles.sales",
    ]
    assert align["views"]["marketing"]["leads"] == 0

    page = html.unescape((reports / "report.html").read_text())
    for sentence in (
        "Channel economics needs each lead's channel (set data.channel_column).",
        "needs the marketing cost of each lead (set data.cost_column).",
        "needs the value of won deals (set data.value_column).",
        "Monthly feedback needs the leads' creation dates (set data.created_column).",
        "The marketing profile needs the field(s) demo_requested, pricing_page_visits",
    ):
        assert sentence in page, sentence
    assert "Test set (no creation dates)" in page and "None to None" not in page
    for name in ("funnel.md", "feedback.md"):
        assert "(set data." in (reports / name).read_text(), name


def costed_export(path: Path, n: int = 3000, seed: int = 12) -> None:
    """An export with creation dates, a channel, a campaign, a per-lead marketing cost and the
    won deal's value (blank for leads that did not convert)."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["Webinar", "Paid Search", "Referral"], n, p=[0.3, 0.5, 0.2])
    base_cost = pd.Series(channel).map({"Webinar": 80.0, "Paid Search": 30.0, "Referral": 10.0})
    cost = np.round(base_cost.to_numpy() * rng.uniform(0.5, 1.5, n), 2)
    visits = rng.poisson(3, n)
    logit = -2.2 + 0.4 * visits + 0.8 * (channel == "Referral")
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 540, n)), "D")
    pd.DataFrame(
        {
            "Lead": [f"L{i:05d}" for i in range(n)],
            "Created On": created.strftime("%Y-%m-%d"),
            "Source": channel,
            "Campaign": pd.Series(channel).str.lower() + "-" + rng.choice(["a", "b"], n),
            "Visits": visits,
            "Spend": cost,
            "Amount": np.where(won, np.round(rng.lognormal(9, 0.4, n)), np.nan),
            "Won": np.where(won, 1, 0),
        }
    ).to_csv(path, index=False)


def test_per_lead_cost_and_won_value_give_the_channel_economics(
    tmp_path, default_params_raw, monkeypatch
):
    costed_export(tmp_path / "leads.csv")
    data = {
        "source": "files",
        "files": [{"path": "leads.csv"}],
        "id_column": "Lead",
        "created_column": "Created On",
        "outcome": {"column": "Won", "positive_values": [1]},
        "channel_column": "Source",
        "campaign_column": "Campaign",
        "cost_column": "Spend",
        "value_column": "Amount",
    }
    raw = files_params(default_params_raw, data)
    raw["contract"]["outcome"]["window_days"] = 30
    raw["split"].update(valid_months=4, test_months=4)  # enough of both outcomes per period
    (tmp_path / "params.yaml").write_text(json.dumps(raw))
    run_stages(tmp_path, monkeypatch, PIPELINE + ("funnel",))

    card = json.loads((tmp_path / "models" / "model_card.json").read_text())
    inputs = {f for kind in ("categorical", "numeric", "boolean") for f in card["features"][kind]}
    assert "Source" in inputs and not inputs & {"Spend", "Amount", "lead_cost", "deal_value"}

    scored = pd.read_parquet(tmp_path / "data" / "processed" / "test_scored.parquet")
    funnel = json.loads((tmp_path / "reports" / "funnel.json").read_text())
    assert funnel["missing"] == [] and funnel["cost_source"] == "per-lead cost (data.cost_column)"
    assert funnel["channels_without_cost"] == []
    assert set(funnel["channels"]) == {"Webinar", "Paid Search", "Referral"}
    for channel, part in scored.groupby("Source"):
        row = funnel["channels"][channel]
        cost = part["lead_cost"].sum()
        won = part[part["converted"].astype(bool)]
        assert row["leads"] == len(part)
        assert row["cost"] == pytest.approx(cost)
        a_leads = int((part["grade"] == "A").sum())
        assert row["cost_per_a_lead"] == (pytest.approx(cost / a_leads) if a_leads else None)
        assert row["cost_per_won_deal"] == pytest.approx(cost / len(won))
        assert row["revenue_per_cost"] == pytest.approx(won["deal_value"].sum() / cost)
    plan = funnel["plan"]
    won_values = scored.loc[scored["converted"].astype(bool), "deal_value"]
    assert plan["average_deal_value"] == pytest.approx(won_values.mean())
    assert "efficient_mix" in plan["plans"]
    assert len(funnel["campaigns"]) == 6
