"""The full model choice on three exports with a known truth (tests/exports.py): chosen on the
validation period by the declared rule, near the best candidate, logged to MLflow; the spread
of refits. Real fits of every candidate, so end to end (tests/unit/model holds the rules)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.analysis.evaluate import recipe_spread, uses_refits
from leadscore.core.stats import roc_auc_interval
from leadscore.model.candidates import BOOSTING, LOGISTIC, Candidate, make_estimator


def auc_on_test(export, pipeline) -> float:
    inputs = export.test[list(export.spec.fields)]
    return float(roc_auc_score(export.test["converted"], pipeline.predict_proba(inputs)[:, 1]))


def candidate_test_aucs(export, fitted) -> dict[str, float]:
    encoded = fitted.pipeline.named_steps["features"].transform(
        export.test[list(export.spec.fields)]
    )
    y = export.test["converted"]
    return {
        f"{r.candidate.name}/{r.stage}": float(
            roc_auc_score(y, r.estimator.predict_proba(encoded)[:, 1])
        )
        for r in fitted.results
    }


@pytest.mark.parametrize(
    ("kind", "family"), [("sparse", LOGISTIC), ("drift", BOOSTING), ("linear", LOGISTIC)]
)
def test_the_chosen_model_is_within_0_01_of_the_best_candidate_on_test(
    exports, fitted, kind, family
):
    export, fit = exports[kind], fitted[kind]
    assert fit.choice.chosen.family == family, fit.choice.reason
    served = auc_on_test(export, fit.pipeline)
    best = max(candidate_test_aucs(export, fit).values())
    assert served >= best - 0.01, (served, best, fit.choice.reason)


def test_a_booster_with_100_leads_per_leaf_cannot_see_the_sparse_field(
    exports, fitted, choice_params
):
    export, fit = exports["sparse"], fitted["sparse"]
    assert export.train["partner_score"].notna().mean() < 0.01
    assert 30 <= export.train["partner_score"].notna().sum() < 100
    old = Candidate(
        BOOSTING,
        {"learning_rate": 0.05, "min_samples_leaf": 100, "max_leaf_nodes": 15,
         "l2_regularization": 1.0},
    )  # fmt: skip
    features = fit.pipeline.named_steps["features"]
    x_train = features.transform(export.train[list(export.spec.fields)])
    x_test = features.transform(export.test[list(export.spec.fields)])
    y = export.train["converted"]
    assert export.spec.fields[-1] == "partner_score"
    with_field = make_estimator(old, export.spec, choice_params.train).fit(x_train, y)
    without = make_estimator(old, export.spec, choice_params.train).fit(x_train[:, :-1], y)
    np.testing.assert_allclose(  # the same model with the field and without it
        with_field.predict_proba(x_test), without.predict_proba(x_test[:, :-1]), atol=1e-12
    )
    old_auc = roc_auc_score(export.test["converted"], with_field.predict_proba(x_test)[:, 1])
    assert auc_on_test(export, fit.pipeline) > old_auc + 0.02


def test_the_search_runs_on_a_subsample_and_refits_the_winner(exports, choice_params_raw):
    from leadscore.core.config import parse_params
    from leadscore.model.train import fit_models

    raw = {**choice_params_raw}
    raw["train"] = {
        **raw["train"],
        "max_iter": 60,
        "search": {**raw["train"]["search"], "families": ["boosting"], "max_rows": 1_000},
        "choice": {**raw["train"]["choice"], "prefer": "boosting"},
    }
    export = exports["drift"]
    fit = fit_models(export.train, export.valid, export.spec, parse_params(raw).train)
    searched = [r for r in fit.results if r.stage == "search"]
    (refit,) = [r for r in fit.results if r.stage == "refit"]
    assert {r.rows for r in searched} == {1_000} and refit.rows == len(export.train)
    best = max(searched, key=lambda r: r.valid_roc_auc)
    chosen, searched_best = refit.candidate.settings, best.candidate.settings
    assert chosen["learning_rate"] == searched_best["learning_rate"]
    assert chosen["min_samples_leaf"] > searched_best["min_samples_leaf"]
    assert fit.choice.chosen.stage == "refit"


def test_the_logistic_search_runs_on_the_subsample_and_its_refit_is_the_baseline(
    exports, choice_params_raw
):
    from leadscore.core.config import parse_params
    from leadscore.model.candidates import search_rows
    from leadscore.model.train import fit_models

    raw = {**choice_params_raw}
    raw["train"] = {
        **raw["train"],
        "search": {**raw["train"]["search"], "families": ["logistic"], "max_rows": 1_000},
    }
    params = parse_params(raw).train
    export = exports["linear"]
    fit = fit_models(export.train, export.valid, export.spec, params)
    searched = [r for r in fit.results if r.stage == "search"]
    (refit,) = [r for r in fit.results if r.stage == "refit"]
    assert {r.rows for r in searched} == {1_000} and refit.rows == len(export.train)
    best = max(searched, key=lambda r: r.valid_roc_auc)
    assert refit.candidate == best.candidate and fit.choice.chosen.stage == "refit"
    assert fit.baseline.named_steps["classifier"] is refit.estimator
    # a searched candidate is the pipeline make_estimator fits on the subsample (one encoder)
    features = fit.pipeline.named_steps["features"]
    x = features.transform(export.train[list(export.spec.fields)])
    x_valid = features.transform(export.valid[list(export.spec.fields)])
    y = export.train["converted"].to_numpy(int)
    rows = search_rows(y, 1_000, params.seed)
    for result in searched:
        alone = make_estimator(result.candidate, export.spec, params).fit(x[rows], y[rows])
        np.testing.assert_array_equal(
            alone.predict_proba(x_valid), result.estimator.predict_proba(x_valid)
        )


def test_the_card_says_what_was_chosen_and_why(trained, choice_params):
    _, _, card = trained
    choice = card.model_choice
    assert card.model_family == "logistic" and card.booster_iterations is None
    assert choice.rule == {"prefer": "logistic", "margin": 0.005, "monthly_stability": True}
    assert "logistic regression (preferred) chosen" in choice.reason
    assert len(choice.candidates) == 3 + len(choice_params.train.search.boosting)
    for record in choice.candidates:
        assert 0.5 < record.valid_roc_auc < 1
        assert set(record.valid_monthly_roc_auc) == {"2025-09", "2025-10", "2025-11"}
    assert card.calibration.method == "sigmoid"
    assert "fewer than the 10,000" in card.calibration.reason
    assert card.metrics.valid_baseline_roc_auc == pytest.approx(
        card.metrics.valid_roc_auc, abs=1e-9
    )  # the best logistic regression is both the served model and the baseline


def test_every_candidate_is_a_child_run_in_mlflow(trained, mlflow_store):
    import mlflow
    from mlflow import MlflowClient

    from leadscore.mlops import tracking

    _, _, card = trained
    experiment = tracking.use_tracking("choice")
    with mlflow.start_run() as parent:
        tracking.log_candidates(card)
    client = MlflowClient()
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == len(card.model_choice.candidates)
    chosen = [c for c in children if c.data.tags["candidate.chosen"] == "true"]
    assert len(chosen) == 1
    assert chosen[0].data.tags["mlflow.runName"] == card.model_choice.chosen.name
    for child in children:
        assert 0.5 < child.data.metrics["valid_roc_auc"] < 1
        assert child.data.metrics["valid_roc_auc.2025-10"] > 0.5
        assert child.data.params["family"] in ("logistic", "boosting")
    assert tracking.choice_tags(card)["model_family"] == "logistic"


def test_refits_of_the_recipe_spread_the_test_auc(exports, trained, choice_params):
    export = exports["sparse"]
    pipeline, _, card = trained
    assert uses_refits(card, choice_params.evaluate)
    y = export.test["converted"].to_numpy(int)
    served = pipeline.predict_proba(export.test)[:, 1]
    low, _ = roc_auc_interval(y, served)
    served_auc = roc_auc_score(y, served)
    spread = recipe_spread(
        export.train, export.valid, export.test, card, choice_params, low, served_auc
    )
    values = spread["test_auc_spread_values"]
    assert spread["test_auc_spread_method"] == "refits" and len(values) == 4
    assert len(set(values)) == 4  # each refit saw other training leads
    # the spread contains the served model's AUC: the served model is one of its values
    assert values[0] == pytest.approx(served_auc, abs=1e-6)
    assert spread["test_auc_spread_min"] <= served_auc <= spread["test_auc_spread_max"]
    assert spread["test_auc_spread_min"] == pytest.approx(min(values), abs=1e-6)
    assert spread["test_auc_spread_max"] == pytest.approx(max(values), abs=1e-6)
    assert spread["test_auc_spread_sd"] > 0
    assert spread["roc_auc_gate_low"] <= min(low, min(values))
