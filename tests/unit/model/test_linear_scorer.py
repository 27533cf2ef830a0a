"""A logistic regression that wins the choice is served by the compiled scorer, reasons exact."""

from __future__ import annotations

import numpy as np
import pytest
from exports import bundle_with

from leadscore.analysis.importance import compute, permutation_importance
from leadscore.core.config import ImportanceParams
from leadscore.model.train import booster_of
from leadscore.scoring import linear, output
from leadscore.scoring.scorer import Scorer


@pytest.fixture(scope="module", params=["sigmoid", "isotonic"])
def linear_bundle(request, exports, choice_params_raw, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"linear-{request.param}")
    return bundle_with(request.param, exports, choice_params_raw, directory)


@pytest.fixture(scope="module")
def scorer(linear_bundle):
    return Scorer.from_bundle(linear_bundle)  # refuses unless it matches the pipeline


def test_the_compiled_scorer_matches_the_pipeline(scorer, linear_bundle, exports):
    assert scorer.trees is None and scorer.linear is not None
    assert scorer.check_against(linear_bundle.pipeline) <= 1e-9
    test = exports["sparse"].test
    matrix, _, rejected = scorer.encode_frame(test)
    assert (rejected == "").all()
    scored = scorer.score(matrix)
    expected = linear_bundle.pipeline.predict_proba(test)[:, 1]
    np.testing.assert_allclose(scored.probability, expected, atol=1e-12)
    encoded = linear_bundle.pipeline.named_steps["features"].transform(test)
    raw = booster_of(linear_bundle.pipeline).decision_function(encoded)
    np.testing.assert_allclose(scored.raw, raw, atol=1e-10)
    assert scored.probability.min() > 0 and scored.probability.max() < 1


def test_contributions_are_coefficient_times_encoded_value_per_field(
    scorer, linear_bundle, exports
):
    test = exports["sparse"].test.head(200)
    matrix, _, _ = scorer.encode_frame(test)
    model = booster_of(linear_bundle.pipeline)
    encoder, coefficients = model.named_steps["encode"], model.named_steps["logistic"].coef_[0]
    columns = encoder.transform(linear_bundle.pipeline.named_steps["features"].transform(test))
    expected = np.column_stack(
        [
            columns[:, encoder.output_indices_[name]] @ coefficients[encoder.output_indices_[name]]
            for name in scorer.fields
        ]
    )
    contributions = scorer.score(matrix, reasons=True).contributions
    np.testing.assert_allclose(contributions, expected, atol=1e-10)
    assert scorer.base_value == pytest.approx(model.named_steps["logistic"].intercept_[0])


def test_all_fields_at_once_give_each_fields_own_terms_bit_for_bit(scorer, exports):
    """`contributions` (every field at once) against `field_scores` field by field, on real
    leads and on edge values: missing, zero, negative (log1p of less than -1 is NaN), huge."""
    matrix, _, _ = scorer.encode_frame(exports["sparse"].test.head(300))
    edges = np.tile(matrix[:1], (5, 1))
    numbers = slice(scorer.linear.n_categorical, None)
    for row, value in enumerate([np.nan, 0.0, -0.5, -3.0, 1e300]):
        edges[row, numbers] = value
    edges[0, : scorer.linear.n_categorical] = np.nan  # every category missing or unseen
    for block in (matrix, edges, matrix[:1]):
        at_once = linear.contributions(scorer.linear, block)
        one_by_one = np.column_stack(
            [linear.field_scores(scorer.linear, block, j) for j in range(block.shape[1])]
        )
        np.testing.assert_array_equal(at_once, one_by_one)


def test_a_partner_leads_top_reason_is_its_partner_score(scorer, exports):
    test = exports["sparse"].test
    partner = test[test["partner_score"].notna()].head(3)
    matrix, _, _ = scorer.encode_frame(partner)
    scored = scorer.score(matrix, reasons=True)
    values = output.record_values(scorer, [lead.to_dict() for _, lead in partner.iterrows()])
    explained = output.explanations(scorer, scored.contributions, scored.raw, values)
    for i, explanation in enumerate(explained):
        assert explanation["reasons"][0]["field"] == "partner_score"
        assert explanation["reasons"][0]["contribution"] > 1
        total = explanation["base_value"] + explanation["rest"]
        total += sum(reason["contribution"] for reason in explanation["reasons"])
        assert total == pytest.approx(scored.raw[i], abs=1e-9)


def test_importance_works_for_a_regression(scorer, exports, linear_bundle):
    test = exports["sparse"].test
    scored = test.assign(probability=linear_bundle.pipeline.predict_proba(test)[:, 1])
    params = ImportanceParams(max_rows=3000, shap_rows=500, repeats=3)
    result = compute(scorer, scored, params)
    table = result["table"].set_index("field")
    assert table.loc["x0", "rank"] == 1  # the strongest dense effect
    assert table.loc["partner_score", "mean_abs_shap"] > table.loc["x5", "mean_abs_shap"]
    matrix, _, _ = scorer.encode_frame(test)
    y = test["converted"].to_numpy(int)
    again = permutation_importance(scorer, matrix, y, 3, 0).set_index("field")
    assert again.loc["x0", "permutation_auc_mean"] > 0.02


def test_the_field_terms_rebuild_the_raw_output(scorer, linear_bundle, exports):
    assert linear.is_linear(booster_of(linear_bundle.pipeline))
    matrix, _, _ = scorer.encode_frame(exports["sparse"].test.head(100))
    total = sum(scorer.field_output(matrix, j) for j in range(len(scorer.fields)))
    np.testing.assert_allclose(scorer.linear.intercept + total, scorer.raw_output(matrix))
    assert all(scorer.uses_field(j) for j in range(len(scorer.fields)))
