"""The declared choice rule and the booster's size rule, on hand-made results. (The choice on
real fits of every candidate, near the best, logged to MLflow: tests/e2e/test_model_choice.py.)"""

from __future__ import annotations

from leadscore.core.config import ChoiceRule
from leadscore.model.candidates import (
    BOOSTING,
    LOGISTIC,
    Candidate,
    Result,
    boosting_settings,
    choose,
)


def test_boosting_tree_size_scales_with_the_training_size(choice_params):
    config = choice_params.train.search.boosting["b1"]
    assert boosting_settings(config, 120_000)["min_samples_leaf"] == 104
    assert boosting_settings(config, 120_000)["max_leaf_nodes"] == 15
    small = boosting_settings(config, 4_000)
    assert small["min_samples_leaf"] == 19 and small["max_leaf_nodes"] == 5


def result(family: str, auc: float, months: dict[str, float]) -> Result:
    return Result(Candidate(family, {"C": 1.0}), None, 100, 0.0, auc, 0.3, months)


def test_the_rule_prefers_the_simpler_model_within_the_margin():
    rule = ChoiceRule(prefer="logistic", margin=0.005, monthly_stability=True)
    months = {"2026-01": 0.70, "2026-02": 0.70, "2026-03": 0.70}
    lr = result(LOGISTIC, 0.700, months)
    close = result(BOOSTING, 0.704, {m: 0.71 for m in months})
    assert choose([lr, close], rule).chosen is lr
    better = result(BOOSTING, 0.720, {m: 0.72 for m in months})
    choice = choose([lr, better], rule)
    assert choice.chosen is better and "3 of 3 validation months" in choice.reason


def test_the_rule_refuses_a_gain_made_in_one_month_only():
    rule = ChoiceRule(prefer="logistic", margin=0.005, monthly_stability=True)
    lr = result(LOGISTIC, 0.700, {"2026-01": 0.70, "2026-02": 0.70, "2026-03": 0.70})
    lucky = result(BOOSTING, 0.720, {"2026-01": 0.80, "2026-02": 0.69, "2026-03": 0.69})
    choice = choose([lr, lucky], rule)
    assert choice.chosen is lr
    assert "only 1 of 3 validation months" in choice.reason
    unchecked = choose([lr, lucky], rule.model_copy(update={"monthly_stability": False}))
    assert unchecked.chosen is lucky
