"""Messages a new user reads: no 'None deals', no odds ratio of an empty grade A."""

from __future__ import annotations

from leadscore.core.contract import PublishGate
from leadscore.model.gate import NO_A_LEADS, odds_ratio_check, publish_gate
from leadscore.views.funnel import plan_summary


def test_a_plan_without_deal_values_says_why_not_none_deals():
    report = {
        "plan": {"deals_needed": None, "a_leads_needed": None, "revenue_target": 1_000_000},
        "missing": [
            {
                "missing": "deal_value",
                "message": "The plan needs won deal values (set data.value_column).",
            }
        ],
    }
    text = plan_summary(report)
    assert "None" not in text
    assert text == (
        "no plan for a target of 1,000,000: The plan needs won deal values (set data.value_column)."
    )
    report["plan"].update(deals_needed=20, a_leads_needed=50)
    assert plan_summary(report) == "20 deals, 50 A leads for a target of 1,000,000"


def test_an_empty_grade_a_has_no_odds_ratio_and_says_why():
    check = odds_ratio_check(None, 0.1, 2.5)
    assert check.actual is None and not check.passed
    assert check.explanation == NO_A_LEADS and "0.0" not in check.explanation
    profiles = {"marketing": {"conversion": 0.2}}
    metrics = {"leads": 1000, "base_rate": 0.1, "roc_auc_ci_low": 0.7}
    gate = publish_gate(None, profiles, metrics, 0.1, PublishGate(), None, None)
    margin = gate.checks["margin_over_best_profile"]
    assert margin.actual is None and margin.explanation == NO_A_LEADS
    assert not gate.publishable
