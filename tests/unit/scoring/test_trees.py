"""The compiled scorer and its tree kernels reproduce the sklearn Pipeline exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from leadscore.model.bundle import load_bundle
from leadscore.model.train import booster_of
from leadscore.scoring import output, trees
from leadscore.scoring.compiling import CompileError
from leadscore.scoring.scorer import Scorer, score_leads


@pytest.fixture(scope="module")
def bundle(tiny_bundle_dir):
    return load_bundle(tiny_bundle_dir)


@pytest.fixture(scope="module")
def scorer(bundle):
    return Scorer.from_bundle(bundle)


@pytest.fixture(scope="module")
def encoded_test(bundle, tiny_split):
    spec = bundle.card.spec
    leads = tiny_split.test[list(spec.fields)]
    return bundle.pipeline.named_steps["features"].transform(leads)


def test_raw_scores_equal_the_boosters_decision_function(bundle, encoded_test):
    booster = booster_of(bundle.pipeline)
    arrays = trees.from_hist_gradient_boosting(booster)
    assert arrays.category_left.shape[0] > 0, "the tiny model should have categorical splits"
    np.testing.assert_allclose(
        trees.raw_scores(arrays, encoded_test), booster.decision_function(encoded_test), atol=1e-12
    )


def test_contributions_add_up_to_the_raw_output(bundle, encoded_test):
    booster = booster_of(bundle.pipeline)
    arrays = trees.from_hist_gradient_boosting(booster)
    phi = trees.contributions(arrays, encoded_test)
    total = trees.base_value(arrays) + phi.sum(axis=1)
    np.testing.assert_allclose(total, booster.decision_function(encoded_test), atol=1e-9)


@pytest.fixture(scope="module")
def numeric_booster():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values take the learned direction
    logit = 1.5 * np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2])
    y = rng.random(3000) < 1 / (1 + np.exp(-logit))
    model = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, random_state=0)
    return model.fit(X, y), X


def test_tree_shap_matches_shap_on_numeric_splits(numeric_booster):
    import shap

    model, X = numeric_booster
    arrays = trees.from_hist_gradient_boosting(model)
    explainer = shap.TreeExplainer(model)
    expected = explainer.shap_values(X[:300])
    np.testing.assert_allclose(trees.contributions(arrays, X[:300]), expected, atol=1e-8)
    assert trees.base_value(arrays) == pytest.approx(float(np.ravel(explainer.expected_value)[0]))


def test_shap_misreads_categorical_splits_which_is_why_we_walk_the_trees(bundle, encoded_test):
    """shap reads HistGradientBoosting splits by threshold only; bitset splits come out wrong."""
    import shap

    booster = booster_of(bundle.pipeline)
    explainer = shap.TreeExplainer(booster)
    values = explainer.shap_values(encoded_test[:200])
    theirs = float(np.ravel(explainer.expected_value)[0]) + np.asarray(values).sum(axis=1)
    gap = np.abs(theirs - booster.decision_function(encoded_test[:200]))
    assert gap.max() > 1e-3


def test_scorer_equals_the_pipeline(bundle, scorer, tiny_split):
    expected = score_leads(bundle, tiny_split.test)
    matrix, _, problems = scorer.encode_frame(tiny_split.test)
    scored = scorer.score(matrix)
    assert (problems == "").all()
    np.testing.assert_allclose(scored.probability, expected["probability"], atol=1e-12)
    assert (scored.grade == expected["grade"].to_numpy()).all()
    assert (scored.score == expected["score"].to_numpy()).all()


def test_records_and_frames_encode_identically(scorer, tiny_split):
    leads = tiny_split.test.head(300)[list(scorer.fields)]
    records = leads.astype(object).where(leads.notna(), None).to_dict("records")
    from_records, _ = scorer.encode_records(records)
    from_frame, _, _ = scorer.encode_frame(leads)
    np.testing.assert_array_equal(from_records, from_frame)


def test_unseen_and_missing_values_are_warned_and_scored_as_unknown(scorer):
    matrix, warnings = scorer.encode_records([{"channel": "carrier_pigeon"}])
    assert np.isnan(matrix).all()
    assert any("carrier_pigeon" in w and "not seen in training" in w for w in warnings[0])
    assert any(w.startswith("website_visits: missing") for w in warnings[0])
    assert np.isfinite(scorer.score(matrix).probability).all()


def test_unreadable_batch_values_are_rejected_with_the_reason(scorer):
    frame = pd.DataFrame(
        {"website_visits": ["3", "abc", "-2"], "demo_requested": ["yes", "maybe", None]}
    )
    _, _, problems = scorer.encode_frame(frame)
    assert problems[0] == ""
    assert "website_visits: not a valid value" in problems[1]
    assert "demo_requested: not a valid value" in problems[1]
    assert problems[2] == "website_visits: must be >= 0"


def test_a_scorer_that_drifts_from_the_pipeline_is_refused(bundle, scorer):
    shifted = dataclasses.replace(scorer.trees, baseline=scorer.trees.baseline + 0.01)
    broken = dataclasses.replace(scorer, trees=shifted)
    with pytest.raises(CompileError, match="refusing to serve"):
        broken.check_against(bundle.pipeline)


def test_reasons_add_up_and_are_ordered(scorer, tiny_split):
    lead = tiny_split.test.iloc[0][list(scorer.fields)].to_dict()
    matrix, _ = scorer.encode_records([lead])
    scored = scorer.score(matrix, reasons=True)
    values = output.record_values(scorer, [lead])
    (explanation,) = output.explanations(scorer, scored.contributions, scored.raw, values)
    assert explanation["raw_output"] == scored.raw[0]
    contributions = [r["contribution"] for r in explanation["reasons"]]
    total = explanation["base_value"] + sum(contributions) + explanation["rest"]
    assert total == pytest.approx(scored.raw[0], abs=1e-9)
    positive = [c for c in contributions if c > 0]
    negative = [c for c in contributions if c < 0]
    assert positive == sorted(positive, reverse=True) and len(positive) <= 5
    assert negative == sorted(negative) and len(negative) <= 5
    assert all(r["phrase"] for r in explanation["reasons"])


def test_reasons_are_chosen_as_one_lead_at_a_time_would_choose_them():
    """The batch-wide choice equals the rule lead by lead: the strongest up to 5 raising, then
    up to 5 lowering (ties in field order), and the rest is the other fields' sum."""
    rng = np.random.default_rng(7)
    contributions = rng.normal(size=(300, 12)).round(1)  # rounding makes ties
    contributions[rng.random(contributions.shape) < 0.2] = 0.0
    chosen, rest = output.chosen_reasons(contributions)
    for row, picks, left in zip(contributions, chosen, rest, strict=True):
        order = np.argsort(-row, kind="stable")
        up = [j for j in order[:5] if row[j] > 0]
        down = [j for j in order[::-1][:5] if row[j] < 0]
        assert [j for j in picks if j >= 0] == up + down
        assert left == pytest.approx(row.sum() - row[up + down].sum(), abs=1e-12)
