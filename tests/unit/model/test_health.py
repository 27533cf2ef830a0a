"""Drift and "the baseline wins" warnings fire where they should and stay silent elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.analysis.evaluate import evaluate, model_warnings, monthly_calibration
from leadscore.core.config import WarningParams
from leadscore.model import health
from leadscore.model.thresholds import derive_grading, grading_record
from leadscore.views.contract import contract_report
from leadscore.views.feedback import monthly_feedback

SETTINGS = WarningParams()


def warnings_on_test(export, pipeline, baseline, card_metrics: dict) -> list[dict]:
    """The evaluate stage's model warnings for a fitted pipeline on an export's test period."""
    inputs = export.test[list(export.spec.fields)]
    probability = pipeline.predict_proba(inputs)[:, 1]
    baseline_probability = baseline.predict_proba(inputs)[:, 1]
    metrics = evaluate(export.test, probability, baseline_probability, None, 10, 0.1)
    metrics["monthly"] = monthly_calibration(export.test, probability)
    return model_warnings(metrics, card_metrics, SETTINGS, "test period")


def valid_metrics(export, fit) -> dict:
    from sklearn.metrics import roc_auc_score

    from leadscore.core.stats import roc_auc_interval

    inputs, y = export.valid[list(export.spec.fields)], export.valid["converted"]
    probability = fit.pipeline.predict_proba(inputs)[:, 1]
    return {
        "valid_roc_auc": roc_auc_score(y, probability),
        "valid_roc_auc_ci_high": roc_auc_interval(y.to_numpy(), probability)[1],
        "valid_baseline_roc_auc": roc_auc_score(y, fit.baseline.predict_proba(inputs)[:, 1]),
    }


def checks(found: list[dict]) -> set[tuple[str, str]]:
    return {(w["check"], w["month"]) for w in found}


def test_drift_warnings_name_the_months_where_conversion_ran_away(exports, fitted):
    export, fit = exports["drift"], fitted["drift"]
    found = warnings_on_test(export, fit.pipeline, fit.baseline, valid_metrics(export, fit))
    months = sorted(export.test["created_at"].dt.to_period("M").astype(str).unique())
    drift = {w["month"]: w for w in found if w["check"] == "calibration_drift"}
    assert months[-1] in drift and months[-2] in drift, found  # 26 % and 30 % against ~15 %
    last = drift[months[-1]]
    assert last["actual"] > 1.8 * last["predicted"]
    assert f"{last['actual']:.1%} converted" in last["message"] and "too low" in last["message"]
    assert ("ece_limit", "test period") in checks(found)
    assert not any(w["check"] == "baseline_beats_model" for w in found)


@pytest.mark.parametrize("kind", ["sparse", "linear"])
def test_no_warning_without_drift_when_the_better_model_is_served(exports, fitted, kind):
    export, fit = exports[kind], fitted[kind]
    assert warnings_on_test(export, fit.pipeline, fit.baseline, valid_metrics(export, fit)) == []


def test_the_baseline_warning_fires_when_a_worse_booster_is_served(exports, choice_params_raw):
    """Today's behaviour (boosting only) on data where logistic regression is truly better."""
    from leadscore.core.config import parse_params
    from leadscore.model.train import fit_models

    raw = {**choice_params_raw}
    search = {**raw["train"]["search"], "families": ["boosting"]}
    raw["train"] = {**raw["train"], "search": search, "choice": {"prefer": "boosting"}}
    export = exports["linear"]
    fit = fit_models(export.train, export.valid, export.spec, parse_params(raw).train)
    found = warnings_on_test(export, fit.pipeline, fit.baseline, valid_metrics(export, fit))
    baseline = [w for w in found if w["check"] == "baseline_beats_model"]
    assert {w["month"] for w in baseline} == {"validation period", "test period"}
    for item in baseline:
        assert item["baseline_auc"] > item["model_ci_high"] > item["model_auc"]
        assert f"{item['baseline_auc']:.4f}" in item["message"]


def test_feedback_checks_every_grade_and_warns_on_a_stale_bar(exports, fitted, choice_params):
    """The drifting export, graded on its validation period: the rising months are flagged."""
    export, fit = exports["drift"], fitted["drift"]
    valid_p = fit.pipeline.predict_proba(export.valid[list(export.spec.fields)])[:, 1]
    grading, derivation = derive_grading(
        valid_p, len(export.valid) / 3, choice_params.contract.grades, export.valid["converted"]
    )
    probability = fit.pipeline.predict_proba(export.test[list(export.spec.fields)])[:, 1]
    scored = export.test.assign(probability=probability, grade=grading.grade(probability))
    bindings = {g: row["binding"] for g, row in derivation["grades"].items()}
    report = monthly_feedback(
        scored, choice_params.contract, pd.Timestamp("2027-01-01"), settings=SETTINGS,
        bindings=bindings,
    )  # fmt: skip
    first, *_, last = report["months"]
    assert first["warnings"] == []
    assert last["flagged"]
    assert {w["check"] for w in last["warnings"]} == {"calibration_drift", "far_above_promise"}
    (stale,) = [w for w in last["warnings"] if w["check"] == "far_above_promise"]
    assert stale["grade"] == "C"  # grade C, which the old feedback never checked
    assert last["grades"]["C"]["conversion"] > 2.5 * stale["promise"]


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
    report = contract_report(scored, choice_params.contract, record, metrics)
    bounds = [w for w in report["warnings"] if w["check"] == "threshold_at_bound"]
    assert {w["grade"] for w in bounds} == {"A", "C"}
    assert "every lead clears it" in next(w["message"] for w in bounds if w["grade"] == "C")
    from leadscore.views.contract import render_markdown

    assert "the grade A threshold is 1.0000" in render_markdown(report)


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
    report = contract_report(scored, tiny_params.contract, grading, metrics)
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
