"""Drift, promise and "the baseline wins" warnings fire where they should and stay silent
elsewhere. (The warnings on models of the full search: tests/e2e/test_model_health.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.analysis.evaluate import evaluate, model_warnings, monthly_calibration
from leadscore.core.config import WarningParams
from leadscore.model import health
from leadscore.model.thresholds import grading_record
from leadscore.views.contract import contract_report
from leadscore.views.feedback import monthly_feedback

SETTINGS = WarningParams()


def checks(found: list[dict]) -> set[tuple[str, str]]:
    return {(w["check"], w["month"]) for w in found}


def test_feedback_flags_c_converting_above_b_and_far_above_its_promise(choice_params):
    contract = choice_params.contract
    rows = [("B", 100, 35), ("C", 100, 62), ("D", 300, 20), ("A", 40, 26)]
    leads = pd.DataFrame(
        [
            {"grade": g, "converted": int(i < k), "created_at": pd.Timestamp("2026-03-10")}
            for g, n, k in rows
            for i in range(n)
        ]
    )
    report = monthly_feedback(leads, contract, pd.Timestamp("2026-12-31"), settings=SETTINGS)
    (month,) = report["months"]
    found = checks(month["warnings"])
    assert ("grades_out_of_order", "2026-03") in found  # C 62 % above B's 35 %
    assert ("far_above_promise", "2026-03") in found  # C 62 % against a 10 % promise
    assert month["flagged"]
    (stale,) = [w for w in month["warnings"] if w["check"] == "far_above_promise"]
    assert stale["grade"] == "C" and "62.0%" in stale["message"] and "10%" in stale["message"]


def test_a_capacity_bound_grade_converting_high_is_not_stale(choice_params):
    counts = {"A": (500, 450), "B": (1000, 290), "C": (500, 60), "D": (5000, 150)}
    grades = choice_params.contract.grades
    assert health.promise_checks("2026-06", counts, grades, SETTINGS, {"A": "capacity"}) == []
    stale = health.promise_checks("2026-06", counts, grades, SETTINGS, {"A": "conversion"})
    assert [w["grade"] for w in stale] == ["A"]


def test_contract_report_warns_on_thresholds_of_0_and_1(choice_params):
    scored = pd.DataFrame(
        {
            "converted": np.r_[np.ones(60), np.zeros(240)].astype(int),
            "grade": ["A"] * 60 + ["C"] * 240,
            "created_at": pd.Timestamp("2026-06-15"),
            "channel": "email",
            "demo_requested": False,
            "pricing_page_visits": 0,
            "seniority": "manager",
            "company_size": "11-50",
        }
    )
    from leadscore.model.grading import Grading

    grading = Grading({"A": 1.0, "B": 0.5, "C": 0.0}, tuple(np.linspace(0, 1, 99)))
    record = grading_record(grading, {"grades": {}}, choice_params.contract, "v1")
    metrics = {"leads": 300, "base_rate": 0.2, "roc_auc_ci_low": 0.6}
    typed = contract_report(scored, choice_params.contract, record, metrics)
    report = typed.to_json()
    bounds = [w for w in report["warnings"] if w["check"] == "threshold_at_bound"]
    assert {w["grade"] for w in bounds} == {"A", "C"}
    assert "every lead clears it" in next(w["message"] for w in bounds if w["grade"] == "C")
    from leadscore.views.contract_markdown import render_markdown

    assert "the grade A threshold is 1.0000" in render_markdown(typed)


def test_warnings_stay_silent_on_the_built_in_data(tiny_models, tiny_split, tiny_params,
                                                   tiny_grading_record):  # fmt: skip
    """The generated CRM (the built-in data, small): no model or grade warning."""
    pipeline, baseline, card = tiny_models
    test = tiny_split.test
    inputs = test[list(card.spec.fields)]
    probability = pipeline.predict_proba(inputs)[:, 1]
    metrics = evaluate(test, probability, baseline.predict_proba(inputs)[:, 1], None, 10, 0.1)
    metrics["monthly"] = monthly_calibration(test, probability)
    metrics["warnings"] = model_warnings(metrics, card.metrics.figures(), SETTINGS, "test period")
    assert metrics["warnings"] == []
    grading = tiny_grading_record
    from leadscore.model.grading import Grading

    scored = test.assign(
        probability=probability, grade=Grading.from_dict(grading).grade(probability)
    )
    report = contract_report(scored, tiny_params.contract, grading, metrics).to_json()
    assert report["warnings"] == [], report["warnings"]
    bindings = {g: row["binding"] for g, row in grading["derivation"]["grades"].items()}
    feedback = monthly_feedback(
        scored, tiny_params.contract, pd.Timestamp("2027-12-31"), settings=SETTINGS,
        bindings=bindings,
    )  # fmt: skip
    assert [m["warnings"] for m in feedback["months"]] == [[], [], []]


def test_a_grade_below_its_promise_within_the_noise_is_noted_not_flagged(choice_params):
    from leadscore.views.feedback import render_markdown

    rows = [("A", 100, 60), ("B", 300, 90), ("C", 339, 24), ("D", 2000, 60)]  # C 7.1 %
    leads = pd.DataFrame(
        [
            {"grade": g, "converted": int(i < k), "created_at": pd.Timestamp("2026-06-10")}
            for g, n, k in rows
            for i in range(n)
        ]
    )
    contract = choice_params.contract
    report = monthly_feedback(leads, contract, pd.Timestamp("2026-12-31"), settings=SETTINGS)
    (month,) = report["months"]
    assert month["grades"]["C"]["below_promise"] and not month["flagged"]
    assert "C below the promise, within the uncertainty" in render_markdown(report)
    clearly = leads.assign(converted=np.where(leads["grade"] == "C", 0, leads["converted"]))
    (month,) = monthly_feedback(clearly, contract, pd.Timestamp("2026-12-31"))["months"]
    below = [w for w in month["warnings"] if w["check"] == "below_promise"]
    assert [w["grade"] for w in below] == ["C"] and month["flagged"]


def test_calibration_drift_in_a_month_without_conversions_says_so():
    (found,) = health.calibration_drift("2026-06", 300, 0, 0.185, SETTINGS)
    assert "18.5% against 0.0% converted" in found["message"]
    assert "too high (no lead converted)" in found["message"] and "inf" not in found["message"]
