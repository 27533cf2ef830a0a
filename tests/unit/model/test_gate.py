"""The one publish gate: which AUC figure it judges, the months of an undated test period, and
its typed result as the contract report writes it."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core.config import parse_params
from leadscore.core.contract import PublishGate
from leadscore.core.contract_report import GateCheck, GateResult
from leadscore.core.errors import LeadscoreError
from leadscore.model.gate import (
    auc_gate_low,
    covered_months,
    judge_leads,
    publish_gate,
    undated_months,
)

PROFILES = {"marketing": {"conversion": 0.2}, "sales": {"conversion": 0.25}}
GATE = PublishGate(min_positives=10, min_negatives=10, min_auc_lower_bound=0.6)


def auc_check(metrics: dict) -> GateCheck:
    result = publish_gate(0.6, PROFILES, metrics, 0.2, GATE)
    return result.checks["auc_lower_bound"]


def test_the_gate_judges_the_worst_interval_over_refits_not_the_served_one():
    # the served model's interval clears the bar, a refit with another seed does not
    metrics = {"leads": 1000, "base_rate": 0.2, "roc_auc_ci_low": 0.7, "roc_auc_gate_low": 0.55}
    check = auc_check(metrics)
    assert check.actual == 0.55 and not check.passed
    assert not publish_gate(0.6, PROFILES, metrics, 0.2, GATE).publishable
    # the other way round: a served interval below the bar is not rescued by the spread's
    lucky = {**metrics, "roc_auc_ci_low": 0.5, "roc_auc_gate_low": 0.65}
    assert auc_check(lucky).actual == 0.65 and auc_check(lucky).passed


def test_without_a_spread_the_served_interval_is_judged():
    metrics = {"leads": 1000, "base_rate": 0.2, "roc_auc_ci_low": 0.62}
    assert auc_gate_low(metrics) == 0.62 and auc_check(metrics).passed
    assert auc_gate_low({"leads": 10}) is None and not auc_check({"leads": 10}).passed


def test_every_check_passes_and_the_result_says_publishable():
    metrics = {"leads": 1000, "base_rate": 0.2, "roc_auc_ci_low": 0.7, "roc_auc_gate_low": 0.65}
    result = publish_gate(0.6, PROFILES, metrics, 0.2, GATE)
    assert result.publishable and result.failed() == []
    assert result.checks["min_positives"].actual == 200
    assert result.checks["margin_over_best_profile"].actual == pytest.approx(0.35)
    odds = result.checks["odds_ratio_over_base_rate"]
    assert odds.actual == pytest.approx((0.6 / 0.4) / (0.2 / 0.8))
    # the required A conversion is written for the odds-ratio check only
    dumped = result.model_dump(mode="json")
    assert "required_a_conversion" in dumped["checks"]["odds_ratio_over_base_rate"]
    assert "required_a_conversion" not in dumped["checks"]["min_positives"]
    assert GateResult.model_validate(dumped) == result
    blocked = result.with_check(
        "agreement", GateCheck(required="x", actual="y", passed=False, why="")
    )
    assert not blocked.publishable and blocked.failed() == ["agreement"]


def test_an_undated_test_period_is_its_share_of_the_export_months(default_params_raw):
    raw = {**default_params_raw, "data": {**default_params_raw["data"], "export_months": 18}}
    params = parse_params(raw)
    undated = pd.DataFrame({"converted": [1, 0, 0, 0], "grade": ["A", "A", "B", "D"]})
    months = undated_months(params, undated)
    assert months == pytest.approx(18 * params.split.test_share)
    dated = undated.assign(created_at=pd.to_datetime(["2026-01-01"] * 4))
    assert undated_months(params, dated) is None
    assert covered_months(undated, months) == months
    with pytest.raises(LeadscoreError, match="no creation dates"):
        covered_months(undated, None)


def test_judge_leads_reads_the_a_grade_and_the_profiles_from_the_leads(default_params_raw):
    params = parse_params(default_params_raw)
    leads = pd.DataFrame(
        {
            "converted": [1, 1, 0, 1, 0, 0, 0, 0, 0, 0],
            "grade": ["A", "A", "A", "B", "B", "C", "C", "D", "D", "D"],
            "demo_requested": [True] * 5 + [False] * 5,
            "pricing_page_visits": [0] * 10,
            "seniority": ["vp"] * 10,
            "company_size": ["1-10"] * 10,
        }
    )
    metrics = {"leads": 10, "base_rate": 0.3, "roc_auc_gate_low": 0.7}
    record = {"thresholds": {}, "contract": params.contract.model_dump(mode="json")}
    result = judge_leads(leads, params.contract, record, metrics, months=2.0)
    odds = result.checks["odds_ratio_over_base_rate"]
    assert odds.actual == pytest.approx((2 / 3 / (1 / 3)) / (0.3 / 0.7))
    # marketing's profile (a demo request) fits the first five leads: 3 of 5 converted
    margin = result.checks["margin_over_best_profile"]
    assert margin.actual == pytest.approx(2 / 3 - 3 / 5)
    assert "marketing" in margin.why
    assert not result.checks["agreement"].passed  # graded under no owners' approval
