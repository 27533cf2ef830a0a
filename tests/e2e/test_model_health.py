"""Drift and "the baseline wins" warnings on models chosen by the full search on the exports
with a known truth (tests/exports.py): real fits, so end to end (the rules: tests/unit/model)."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.analysis.evaluate import evaluate, model_warnings, monthly_calibration
from leadscore.core.config import WarningParams
from leadscore.model.thresholds import derive_grading
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
