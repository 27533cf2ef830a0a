"""The sales-and-marketing views: profile comparison, funnel arithmetic, monthly feedback, report.

Numbers are checked against values computed by hand on tiny hand-built lead tables.
"""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core.config import FunnelParams, parse_params
from leadscore.views.align import agreement_table, align_report, conversion_by_value
from leadscore.views.feedback import (
    closed_months,
    join_scoring_log,
    monthly_feedback,
    outcomes_from_file,
    psi,
)
from leadscore.views.funnel import channel_economics, funnel_report


@pytest.fixture()
def contract(default_params_raw):
    return parse_params(default_params_raw).contract


def leads(rows: list[tuple]) -> pd.DataFrame:
    """(demo_requested, seniority, company_size, grade, converted) per lead."""
    frame = pd.DataFrame(
        rows, columns=["demo_requested", "seniority", "company_size", "grade", "converted"]
    )
    return frame.assign(pricing_page_visits=0)


# marketing profile = demo requested (pricing visits are 0); sales = senior at 200+ people
TINY = leads(
    [(True, "vp", "5000+", "A", 1)] * 3  # both profiles: 3 leads, 3 won
    + [(True, "vp", "5000+", "B", 0)] * 1  # both: 1 lost
    + [(True, "manager", "1-10", "B", 1)] * 2  # only marketing: 2 won
    + [(True, "manager", "1-10", "C", 0)] * 2  # only marketing: 2 lost
    + [(False, "c_level", "201-1000", "A", 1)] * 1  # only sales: 1 won
    + [(False, "c_level", "201-1000", "D", 0)] * 3  # only sales: 3 lost
    + [(False, "manager", "11-50", "D", 0)] * 8  # neither: 8 lost
)


def test_agreement_table_by_hand(contract):
    report = align_report(TINY, contract, [])
    table = report["agreement"]
    assert {k: v["leads"] for k, v in table.items()} == {
        "both": 4,
        "only_marketing": 4,
        "only_sales": 4,
        "neither": 8,
    }
    assert table["both"]["conversion"] == 0.75
    assert table["only_marketing"]["conversion"] == 0.5
    assert table["only_sales"]["conversion"] == 0.25
    assert table["neither"]["conversion"] == 0.0
    assert table["both"]["a_grade_share"] == 0.75
    assert table["both"]["share_of_conversions"] == pytest.approx(3 / 6)
    assert sum(cell["leads"] for cell in agreement_table(TINY, _masks(contract)).values()) == 20


def _masks(contract):
    from leadscore.views.align import views

    return views(TINY, contract)[0]


def test_side_by_side_views_by_hand(contract):
    views = align_report(TINY, contract, [])["views"]
    base_rate = 6 / 20
    assert views["marketing"]["leads"] == 8
    assert views["marketing"]["conversion"] == 5 / 8
    assert views["marketing"]["lift"] == pytest.approx((5 / 8) / base_rate)
    assert views["marketing"]["share_of_conversions"] == pytest.approx(5 / 6)
    assert views["sales"]["conversion"] == 4 / 8
    assert views["model_A"]["leads"] == 4 and views["model_A"]["conversion"] == 1.0


def test_conversion_by_value_and_sentence():
    from leadscore.views.align import lead_elements

    table = conversion_by_value(TINY, "demo_requested", min_leads=10)
    assert table.set_index("value")["conversion"].to_dict() == {"no": 1 / 12}  # "yes" has 8
    table = conversion_by_value(TINY, "demo_requested", min_leads=1)
    assert table.set_index("value")["conversion"].to_dict() == {"yes": 5 / 8, "no": 1 / 12}
    elements = lead_elements(TINY, ["seniority", "demo_requested"], min_leads=1)
    # seniority: vp 3/4, c_level 1/4, manager 2/12 -> spread 0.583 > demo's 0.542
    assert [e["field"] for e in elements] == ["seniority", "demo_requested"]
    assert elements[0]["sentence"].startswith("Leads with seniority vp converted at 75% vs 19%")


CHANNEL_LEADS = pd.DataFrame(
    {
        "lead_id": range(10),
        "channel": ["email"] * 6 + ["events"] * 4,
        "grade": ["A", "A", "B", "D", "D", "D", "A", "D", "D", "D"],
        "converted": [1, 0, 1, 0, 0, 0, 1, 0, 0, 0],
        "deal_value": [10_000.0, None, 30_000.0, None, None, None, 20_000.0, None, None, None],
    }
)
COSTS = pd.DataFrame({"channel": ["email", "events"], "cost_per_lead": [10.0, 100.0]})


def test_channel_economics_by_hand():
    table = channel_economics(CHANNEL_LEADS, COSTS).set_index("channel")
    email, events = table.loc["email"], table.loc["events"]
    assert (
        email["cost"] == 60 and email["a_leads"] == 2 and email["a_share"] == pytest.approx(1 / 3)
    )
    assert email["cost_per_a_lead"] == 30 and email["cost_per_won_deal"] == 30
    assert email["revenue_per_cost"] == pytest.approx(40_000 / 60)
    assert events["cost"] == 400 and events["cost_per_a_lead"] == 400
    assert events["conversion"] == 0.25


def test_funnel_backwards_by_hand():
    report = funnel_report(
        CHANNEL_LEADS, COSTS, FunnelParams(revenue_target=100_000, response_rate=0.1)
    )
    plan = report["plan"]
    assert plan["average_deal_value"] == 20_000  # (10k + 30k + 20k) / 3
    assert plan["deals_needed"] == 5
    assert plan["a_grade_conversion"] == pytest.approx(2 / 3)  # A leads: 1, 0, 1
    assert plan["a_leads_needed"] == 8  # ceil(5 / (2/3)) = ceil(7.5)
    current = plan["plans"]["current_mix"]
    # mix 60/40, A per lead = .6 * 1/3 + .4 * 1/4 = 0.3 -> ceil(8 / 0.3) = 27 leads
    assert current["leads"] == 27
    assert current["channels"]["email"]["leads"] == 17  # ceil(27 * 0.6)
    assert current["channels"]["events"]["leads"] == 11  # ceil(27 * 0.4)
    assert current["cost"] == 17 * 10 + 11 * 100
    assert current["reach"] == 270
    # all-channel cost per A lead = 460 / 3 = 153: only email (30) qualifies
    efficient = plan["plans"]["efficient_mix"]
    assert list(efficient["channels"]) == ["email"]
    assert efficient["leads"] == 24  # ceil(8 / (1/3))
    assert efficient["cost"] == 240


def test_channel_without_cost_is_said_not_divided():
    report = funnel_report(CHANNEL_LEADS, COSTS.head(1), FunnelParams(revenue_target=1))
    assert report["channels_without_cost"] == ["events"]
    assert report["channels"]["events"]["cost_per_a_lead"] is None


def monthly(rows: list[tuple]) -> pd.DataFrame:
    """(created_at, grade, converted, channel) per lead."""
    return pd.DataFrame(rows, columns=["created_at", "grade", "converted", "channel"]).assign(
        created_at=lambda f: pd.to_datetime(f["created_at"])
    )


def test_monthly_flags_by_hand(contract):
    # January: A converts 20/40 = 50 % (promise 40 %) -> ok; February: A 8/40 = 20 % (interval
    # up to 35 %) -> flagged, and February's leads all came from events (the reference is all
    # email): a channel shift.
    jan = [("2026-01-15", "A", 1, "email")] * 20 + [("2026-01-15", "A", 0, "email")] * 20
    feb = [("2026-02-10", "A", 1, "events")] * 8 + [("2026-02-10", "A", 0, "events")] * 32
    may = [("2026-05-10", "A", 1, "email")] * 40  # window still open at the as-of date
    scored = monthly(jan + feb + may)
    reference = monthly([("2025-12-01", "A", 1, "email")] * 50)
    report = monthly_feedback(scored, contract, pd.Timestamp("2026-06-15"), reference)
    months = {m["month"]: m for m in report["months"]}
    assert list(months) == ["2026-01", "2026-02"]  # May 31 + 90 days > June 15
    assert report["months_open"] == 1 and report["leads_in_open_months"] == 40
    assert months["2026-01"]["grades"]["A"]["conversion"] == 0.5
    assert not months["2026-01"]["flagged"]
    assert months["2026-02"]["grades"]["A"]["conversion"] == 0.2
    assert months["2026-02"]["flagged"]
    assert "channel mix" in months["2026-02"]["likely_cause"]
    assert report["flagged_months"] == 1


def test_too_few_leads_are_not_judged(contract):
    scored = monthly([("2026-01-15", "A", 0, "email")] * 5)
    report = monthly_feedback(scored, contract, pd.Timestamp("2026-12-31"))
    assert not report["months"][0]["grades"]["A"]["judged"]
    assert not report["months"][0]["flagged"]


def test_closed_months():
    created = pd.Series(pd.to_datetime(["2026-01-31", "2026-02-01"]))
    assert closed_months(created, pd.Timestamp("2026-05-01"), 90).tolist() == [True, False]


def test_psi_sees_a_shift_and_not_noise():
    same = pd.Series(["a", "b"] * 100)
    assert psi(same, same) == pytest.approx(0.0, abs=1e-6)
    assert psi(same, pd.Series(["a"] * 180 + ["b"] * 20)) > 0.25


def test_feedback_from_a_scoring_log_and_outcomes(tmp_path, contract):
    from sqlalchemy import create_engine

    from leadscore.scoring.log_reader import read_scoring_log

    log_rows = pd.DataFrame(
        {
            "lead_id": ["1", "1", "2", "3"],
            "scored_at": pd.to_datetime(["2026-01-02", "2026-01-05", "2026-01-03", "2026-01-04"]),
            "probability": [0.2, 0.8, 0.7, 0.1],
            "score": [40, 95, 90, 10],
            "grade": ["C", "A", "A", "D"],
            "model_version": ["m1"] * 4,
            "contract_version": ["c1"] * 4,
            "source": ["api"] * 4,
        }
    )
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = create_engine(url)
    log_rows.to_sql("scored_leads", engine, index=False)
    engine.dispose()
    outcomes = outcomes_from_file(
        pd.DataFrame(
            {
                "lead_id": [1, 2],
                "created_at": ["2026-01-02", "2026-01-03"],
                "won_at": ["2026-02-01", None],
            }
        ),
        window_days=90,
    )
    joined, without = join_scoring_log(read_scoring_log(url), outcomes)
    assert without == 1  # lead 3 has no outcome row yet
    assert joined.set_index("lead_id")["grade"].to_dict() == {"1": "A", "2": "A"}  # latest score
    assert joined.set_index("lead_id")["converted"].to_dict() == {"1": 1, "2": 0}
    report = monthly_feedback(joined, contract, pd.Timestamp("2026-06-01"), source="scoring log")
    assert (
        report["months"][0]["grades"]["A"] | {"leads": 2, "conversions": 1}
        == report["months"][0]["grades"]["A"]
    )


def test_outcomes_need_a_result_column():
    with pytest.raises(ValueError, match="'converted'.*'won_at'"):
        outcomes_from_file(pd.DataFrame({"lead_id": [1], "created_at": ["2026-01-01"]}), 90)


def test_final_lost_outcomes_count_at_once(contract):
    # May's leads are all won or lost in the CRM: final, so May counts although its 90-day
    # window is still open on June 15; June holds an open lead, so June waits for its window.
    may = [("2026-05-10", "A", 1, "email", "won")] * 20 + [
        ("2026-05-12", "A", 0, "email", "lost")
    ] * 20
    june = [("2026-06-01", "A", 0, "email", "lost")] * 5 + [
        ("2026-06-02", "A", None, "email", "open")
    ]
    scored = pd.DataFrame(
        may + june, columns=["created_at", "grade", "converted", "channel", "outcome_status"]
    ).assign(created_at=lambda f: pd.to_datetime(f["created_at"]))
    report = monthly_feedback(scored, contract, pd.Timestamp("2026-06-15"))
    assert [m["month"] for m in report["months"]] == ["2026-05"]
    assert report["months"][0]["grades"]["A"]["conversion"] == 0.5
    assert report["months_open"] == 1 and report["leads_in_open_months"] == 6
    # without a status nothing is final before its window closes
    plain = monthly_feedback(
        scored.drop(columns="outcome_status"), contract, pd.Timestamp("2026-06-15")
    )
    assert plain["months"] == []
