"""Each check of the publish gate on its boundary, with the figures and the words it reports.
(The gate as a whole, the AUC figure it judges and judge_leads: test_gate.py.)"""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core.agreement import Agreement, Approval
from leadscore.core.config import parse_params
from leadscore.core.contract import PublishGate
from leadscore.model.gate import (
    NO_A_LEADS,
    REVIEW_CHECK,
    agreement_check,
    check,
    conversion_for_odds_ratio,
    data_checks,
    group_figures,
    lift_check,
    model_review,
    odds,
    odds_ratio_check,
    profile_figures,
    publish_gate,
    review_check,
)

GATE = PublishGate(min_positives=20, min_negatives=80, min_auc_lower_bound=0.6)
PROFILES = {"marketing": {"conversion": 0.3}, "sales": {"conversion": 0.25}}
METRICS = {"leads": 100, "base_rate": 0.2, "roc_auc_gate_low": 0.6}
HASH = "sha256:" + "0" * 64
OWNERS = {"sales": "Sam", "marketing": "Mia"}


def test_a_group_is_quoted_with_its_volume_share_and_lift():
    figures = group_figures(pd.Series([1, 1, 0, 0, 0, 0, 0, 0]), 2.0, 0.125, 4)
    assert figures["leads"] == 8 and figures["conversions"] == 2
    assert figures["conversion"] == 0.25
    assert figures["leads_per_month"] == 4.0
    assert figures["share_of_conversions"] == 0.5
    assert figures["lift"] == 2.0
    assert figures["conversion_ci_low"] < 0.25 < figures["conversion_ci_high"]
    empty = group_figures(pd.Series([], dtype=int), 2.0, 0.0, 0)
    assert empty["share_of_conversions"] == 0.0 and empty["lift"] is None
    assert group_figures(pd.Series([1, 0]), 1.0, 0.0, 1)["lift"] is None  # no base rate


def test_a_groups_volume_counts_distinct_leads_when_rows_are_snapshots():
    converted = pd.Series([1, 1, 0, 0, 0, 0])
    keys = pd.Series(["a", "a", "b", "b", "c", "c"])
    figures = group_figures(converted, 2.0, 0.25, 2, keys)
    assert figures["leads"] == 6 and figures["conversion"] == pytest.approx(1 / 3)
    assert figures["leads_per_month"] == 1.5  # three leads in two months


def test_each_sides_profile_is_measured_on_the_test_leads(default_params_raw):
    contract = parse_params(default_params_raw).contract
    leads = pd.DataFrame(
        {
            "converted": [1, 0, 0, 1, 1, 0],
            "demo_requested": [True, True, False, False, False, False],
            "pricing_page_visits": [0, 0, 0, 0, 0, 0],
            "seniority": ["vp", "vp", "vp", "vp", "analyst", "analyst"],
            "company_size": ["201-1000"] * 4 + ["1-10"] * 2,
        }
    )
    figures = profile_figures(leads, contract.profiles, 3.0)
    assert figures["marketing"]["leads"] == 2 and figures["marketing"]["conversion"] == 0.5
    assert figures["marketing"]["lift"] == 1.0  # base rate 3 / 6
    assert figures["marketing"]["share_of_conversions"] == pytest.approx(1 / 3)
    assert figures["sales"]["leads"] == 4 and figures["sales"]["conversions"] == 2
    assert figures["sales"]["leads_per_month"] == pytest.approx(4 / 3)


def test_a_check_is_passed_as_a_plain_bool():
    made = check(1, 2, 1, "why", "because")
    assert made.passed is True
    assert (made.required, made.actual, made.why, made.explanation) == (1, 2, "why", "because")
    assert check(1, 0, 0, "why").explanation == ""


def test_odds_and_the_conversion_an_odds_ratio_means():
    assert odds(0.2) == 0.25
    assert odds(0.5) == 1.0
    # odds 0.25 x 3 = 0.75 -> conversion 0.75 / 1.75
    assert conversion_for_odds_ratio(0.2, 3.0) == pytest.approx(0.75 / 1.75)


def test_the_odds_ratio_bar_is_met_exactly_at_the_conversion_it_means():
    needed = conversion_for_odds_ratio(0.2, 3.0)
    at = odds_ratio_check(needed, 0.2, 3.0)
    assert at.passed and at.actual == pytest.approx(3.0)
    assert at.required == 3.0 and at.required_a_conversion == pytest.approx(needed)
    assert at.why == "odds of converting, A grade / all test leads"
    assert not odds_ratio_check(needed - 1e-6, 0.2, 3.0).passed
    assert odds_ratio_check(0.5, 0.2, 3.0).explanation == (
        "The odds that an A lead converts (converted : not converted) must be at least 3 times "
        "the odds of the average test lead. At this base rate of 20.0% that means A leads must "
        "convert at 42.9% or more; they converted at 50.0% (odds ratio 4.00). Unlike a lift "
        "(A conversion / base rate), which can never exceed 1 / base rate (here 5.00), this bar "
        "can be met at any base rate; when conversions are rare it reads almost as a lift."
    )


def test_an_a_grade_converting_every_lead_has_no_odds_ratio_but_passes():
    everyone = odds_ratio_check(1.0, 0.2, 3.0)
    assert everyone.passed and everyone.actual is None
    assert "they converted at 100.0%. Unlike" in everyone.explanation


def test_the_odds_ratio_is_not_assessable_without_a_leads_or_with_one_outcome():
    nobody = odds_ratio_check(None, 0.2, 3.0)
    assert (nobody.passed, nobody.actual, nobody.required) == (False, None, 3.0)
    assert nobody.explanation == NO_A_LEADS
    assert nobody.why == "odds of converting, A grade / all test leads"
    for base_rate in (0.0, 1.0):
        one = odds_ratio_check(0.5, base_rate, 3.0)
        assert (one.passed, one.actual, one.required) == (False, None, 3.0)
        assert one.explanation == "Not assessable: the test period has only one outcome."
        assert one.why == "odds of converting, A grade / all test leads"


def test_the_lift_bar_is_met_exactly_at_the_required_lift():
    at = lift_check(0.5, 0.25, 2.0)
    assert at.passed and at.actual == 2.0 and at.required == 2.0
    assert at.why == "A-grade conversion / base rate"
    assert at.explanation == "A leads must convert at 2 times the base rate: 50.0%."
    assert not lift_check(0.49, 0.25, 2.0).passed
    assert lift_check(0.5, 0.0, 2.0).actual == 0.0


def test_a_lift_out_of_reach_says_so():
    far = lift_check(0.9, 0.5, 2.5)
    assert far.explanation == (
        "A leads must convert at 2.5 times the base rate: 125.0%. This cannot be reached at a "
        "base rate of 50.0%: the largest possible lift is 1 / base rate = 2.00. Use "
        "min_odds_ratio_over_base_rate."
    )
    # exactly at 1 / base rate it can still be reached (every A lead converting)
    assert "cannot be reached" not in lift_check(0.9, 0.5, 2.0).explanation
    nobody = lift_check(None, 0.5, 2.0)
    assert (nobody.passed, nobody.actual, nobody.explanation) == (False, None, NO_A_LEADS)
    assert nobody.why == "A-grade conversion / base rate" and nobody.required == 2.0


def test_the_review_check_names_the_inputs_waiting_for_a_sign_off():
    fields = {
        "a": {"awaiting_sign_off": True},
        "b": {"awaiting_sign_off": False},
        "c": {"awaiting_sign_off": True},
    }
    waiting = review_check({"fields": fields})
    assert (waiting.required, waiting.actual, waiting.passed) == ([], ["a", "c"], False)
    assert waiting.why == "inputs under leakage review without the contract's sign-off"
    intro = (
        "Every input the leakage review put under review must be signed off in "
        "contract.allowed_fields (known at the moment of scoring, with a reason) or excluded "
        "in contract.excluded_fields."
    )
    assert waiting.explanation == intro + " Waiting: a, c."
    clear = review_check({"fields": {"b": {}}})
    assert clear.passed and clear.actual == [] and clear.explanation == intro


def approval(role: str, day: str) -> Approval:
    return Approval(
        role=role, owner=OWNERS[role], contract=HASH, approved_at=day, key_id="k", signature="s"
    )


def test_the_agreement_check_passes_only_with_both_owners():
    agreed = Agreement(
        HASH,
        "v1",
        OWNERS,
        {role: approval(role, "2026-01-02T00:00:00Z") for role in ("sales", "marketing")},
    )
    passed = agreement_check(agreed)
    assert (passed.required, passed.actual, passed.passed) == (
        "agreed by both owners",
        "agreed",
        True,
    )
    assert passed.why == "the contract the model was graded under is agreed by both owners"
    assert passed.explanation == ""
    refused = Agreement(HASH, "v1", OWNERS, {"sales": approval("sales", "2026-01-02T00:00:00Z")},
                        problems=("a key not on file", "an old contract"))  # fmt: skip
    failed = agreement_check(refused)
    assert (failed.actual, failed.passed) == ("not agreed", False)
    assert failed.explanation == (
        refused.headline() + " Refused: a key not on file; an old contract."
    )
    plain = agreement_check(Agreement(HASH, "v1", OWNERS))
    assert plain.explanation == Agreement(HASH, "v1", OWNERS).headline()


def test_the_data_minimums_are_met_exactly_at_the_bar():
    checks = data_checks(METRICS, 0.5, GATE)  # 20 converted and 80 unconverted test leads
    assert checks["min_positives"].passed and checks["min_positives"].actual == 20
    assert checks["min_negatives"].passed and checks["min_negatives"].actual == 80
    assert checks["min_positives"].required == 20 and checks["min_negatives"].required == 80
    assert checks["auc_lower_bound"].passed and checks["auc_lower_bound"].actual == 0.6
    assert checks["auc_lower_bound"].required == 0.6
    assert checks["min_positives"].why == "converted test leads"
    assert checks["min_negatives"].why == "unconverted test leads"
    assert checks["auc_lower_bound"].why == (
        "lower end of the 95 % interval of the test AUC, the worst over seeds (0.5 = no signal)"
    )
    short = data_checks({"leads": 99, "base_rate": 0.19, "roc_auc_gate_low": 0.59}, 0.5, GATE)
    assert short["min_positives"].actual == 19  # 18.81 rounds to 19
    assert not short["min_positives"].passed and not short["auc_lower_bound"].passed
    assert short["min_negatives"].actual == 80 and short["min_negatives"].passed
    fewer = data_checks({"leads": 98, "base_rate": 0.2}, 0.5, GATE)
    assert fewer["min_negatives"].actual == 78 and not fewer["min_negatives"].passed
    assert fewer["auc_lower_bound"].actual is None and not fewer["auc_lower_bound"].passed
    # without the metrics' base rate, the test leads' is used; without leads, none
    assert data_checks({"leads": 100}, 0.3, GATE)["min_positives"].actual == 30
    assert data_checks({}, 0.3, GATE)["min_negatives"].actual == 0


def test_the_margin_is_over_the_best_profile_and_met_exactly_at_the_bar():
    gate = PublishGate(
        min_positives=20,
        min_negatives=80,
        min_auc_lower_bound=0.6,
        min_odds_ratio_over_base_rate=1.0,
        min_margin_over_best_profile=0.25,
    )
    result = publish_gate(0.5, {**PROFILES, "sales": {"conversion": 0.25}}, METRICS, 0.2, gate)
    margin = result.checks["margin_over_best_profile"]
    assert margin.actual == pytest.approx(0.2) and not margin.passed
    assert margin.why == "A-grade conversion minus the best rule profile's (marketing)"
    assert margin.required == 0.25 and margin.explanation == ""
    sales_best = {"marketing": {"conversion": None}, "sales": {"conversion": 0.25}}
    result = publish_gate(0.5, sales_best, METRICS, 0.2, gate)
    margin = result.checks["margin_over_best_profile"]
    assert margin.passed and margin.actual == 0.25
    assert margin.why == "A-grade conversion minus the best rule profile's (sales)"
    assert result.publishable
    assert list(result.checks) == [
        "min_positives",
        "min_negatives",
        "auc_lower_bound",
        "odds_ratio_over_base_rate",
        "margin_over_best_profile",
    ]


def test_without_a_leads_the_margin_is_not_assessable():
    nothing = {"marketing": {"conversion": None}, "sales": {"conversion": None}}
    result = publish_gate(None, nothing, METRICS, 0.2, GATE)
    margin = result.checks["margin_over_best_profile"]
    assert (margin.actual, margin.passed, margin.explanation) == (None, False, NO_A_LEADS)
    # no profile fits a lead: the A grade is measured against 0
    assert publish_gate(0.1, nothing, METRICS, 0.2, GATE).checks[
        "margin_over_best_profile"
    ].actual == pytest.approx(0.1)


def test_the_optional_checks_join_only_when_asked():
    lifted = GATE.model_copy(update={"min_lift_over_base_rate": 2.0})
    review = {"fields": {"x": {"awaiting_sign_off": True}}}
    agreement = Agreement(HASH, "v1", OWNERS)
    result = publish_gate(0.6, PROFILES, METRICS, 0.2, lifted, review, agreement)
    assert result.checks["lift_over_base_rate"].actual == pytest.approx(3.0)
    assert result.checks["lift_over_base_rate"].required == 2.0
    assert result.checks[REVIEW_CHECK].actual == ["x"]
    assert REVIEW_CHECK == "fields_under_review"
    assert not result.checks["agreement"].passed
    assert result.failed() == [REVIEW_CHECK, "agreement"]
    plain = publish_gate(0.6, PROFILES, METRICS, 0.2, GATE)
    assert {"lift_over_base_rate", REVIEW_CHECK, "agreement"}.isdisjoint(plain.checks)


def test_the_model_review_adds_the_models_importance_to_the_evidence(default_params_raw):
    params = parse_params(default_params_raw)
    evidence = {
        "visits": {"verdict": "kept", "reasons": []},
        "source": {"verdict": "kept", "reasons": []},
    }
    review = model_review(evidence, {"visits": 3.0, "source": 1.0}, ["visits", "source"], params)
    assert review["thresholds"] == params.data.leakage.model_dump()
    assert review["fields"]["visits"]["importance_share"] == 0.75
    assert review["fields"]["source"]["importance_share"] == 0.25
    unmeasured = model_review(evidence, None, ["visits"], params)
    assert unmeasured["fields"]["visits"]["importance_share"] is None
    assert unmeasured["fields"]["source"]["input"] is False


def test_without_dates_the_months_must_be_given_and_the_message_says_how():
    from leadscore.core.errors import LeadscoreError
    from leadscore.model.gate import covered_months

    with pytest.raises(LeadscoreError) as raised:
        covered_months(pd.DataFrame({"converted": [1]}), None)
    assert str(raised.value) == (
        "the test leads have no creation dates: the length of the test period must be given "
        "(data.export_months x split.test_share)"
    )


def test_without_the_metrics_lead_count_there_are_no_test_leads():
    assert data_checks({}, 0.6, GATE)["min_positives"].actual == 0


def test_judge_leads_without_a_leads_with_dates_and_with_a_review(default_params_raw):
    from leadscore.model.gate import judge_leads

    params = parse_params(default_params_raw)
    leads = pd.DataFrame(
        {
            "converted": [1, 0, 0, 1, 0, 0],
            "grade": ["B", "B", "C", "C", "D", "D"],
            "created_at": pd.to_datetime(["2026-01-01", "2026-01-15", "2026-02-01",
                                          "2026-02-10", "2026-03-01", "2026-03-31"]),
        }
    )  # fmt: skip
    metrics = {"leads": 6, "base_rate": 1 / 3, "roc_auc_gate_low": 0.7}
    record = {"thresholds": {}, "contract": params.contract.model_dump(mode="json")}
    review = {"fields": {"x": {"awaiting_sign_off": True}}}
    result = judge_leads(leads, params.contract, record, metrics, None, review)
    odds_check = result.checks["odds_ratio_over_base_rate"]
    assert odds_check.actual is None and odds_check.explanation == NO_A_LEADS
    assert result.checks[REVIEW_CHECK].actual == ["x"]
    # the profiles fit no lead (their fields are absent); months come from the dates
    margin = result.checks["margin_over_best_profile"]
    assert margin.explanation == NO_A_LEADS
