"""The leaf tables (Fast TreeSHAP v2) give the node walk's TreeSHAP values, to 1e-9, and add up
to the raw output: on generated leads, on rows built to sit on every edge, on leaves too deep
for a table, and on models whose fields do not fit the tables' 64-bit marks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from leadscore.model.bundle import load_bundle
from leadscore.model.train import booster_of
from leadscore.scoring import trees, treeshap
from unit.scoring.test_bitsets import hard_values

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def tiny(tiny_bundle_dir, tiny_split):
    bundle = load_bundle(tiny_bundle_dir)
    spec = bundle.card.spec
    encoded = bundle.pipeline.named_steps["features"].transform(tiny_split.test[list(spec.fields)])
    return booster_of(bundle.pipeline), np.asarray(encoded, dtype=np.float64)


def assert_exact(arrays: trees.TreeArrays, X: np.ndarray) -> None:
    """Tables == walk to 1e-9, and base value + contributions == the raw output (the node
    walk's, which tests/unit/scoring/test_trees.py holds to scikit-learn's)."""
    fast, walked = trees.contributions(arrays, X), trees.contributions(arrays, X, walk=True)
    np.testing.assert_allclose(fast, walked, rtol=0, atol=TOLERANCE)
    total = trees.base_value(arrays) + fast.sum(axis=1)
    raw = trees.raw_scores(arrays, X, walk=True)
    np.testing.assert_allclose(total, raw, rtol=0, atol=TOLERANCE)


def test_tables_match_the_walk_on_leads_and_edge_rows(tiny):
    booster, X = tiny
    arrays = trees.from_hist_gradient_boosting(booster)
    assert arrays.category_left.shape[0] > 0, "the tiny model should have categorical splits"
    assert arrays.leaf_tables is not None and arrays.leaf_tables.cacheable
    assert_exact(arrays, X)
    large = np.repeat(X, -(-treeshap.CACHE_MIN_ROWS // len(X)), axis=0)  # the cached path
    assert_exact(arrays, large)
    assert_exact(arrays, hard_values(arrays, X))
    assert_exact(arrays, X[:1])  # one lead, as the API scores it
    one_at_a_time = np.vstack([trees.contributions(arrays, X[i : i + 1]) for i in range(len(X))])
    assert np.array_equal(trees.contributions(arrays, X), one_at_a_time)  # API == batch, bits
    copies = -(-2 * treeshap.PARALLEL_BLOCK // len(X))  # blocks on threads, cached
    parallel = trees.contributions(arrays, np.repeat(X, copies, axis=0), parallel=True)
    assert np.array_equal(parallel, np.repeat(one_at_a_time, copies, axis=0))
    np.testing.assert_allclose(  # and on leads, that raw output is scikit-learn's
        trees.base_value(arrays) + trees.contributions(arrays, X).sum(axis=1),
        booster.decision_function(X),
        rtol=0,
        atol=TOLERANCE,
    )


def fitted(n_fields: int, max_leaf_nodes: int = 31, max_depth: int | None = None, seed: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4000, n_fields))
    X[rng.random(X.shape) < 0.1] = np.nan
    logit = np.nan_to_num(X[:, 0]) * 2 - np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, -1])
    y = rng.random(len(X)) < 1 / (1 + np.exp(-logit))
    model = HistGradientBoostingClassifier(
        max_iter=12, max_leaf_nodes=max_leaf_nodes, max_depth=max_depth, min_samples_leaf=3,
        random_state=0,
    )  # fmt: skip
    return model.fit(X, y), X


def test_trees_with_more_splits_than_a_cache_key_holds_are_not_cached():
    booster, X = fitted(n_fields=8, max_leaf_nodes=100)
    arrays = trees.from_hist_gradient_boosting(booster)
    assert arrays.leaf_tables is not None and not arrays.leaf_tables.cacheable
    assert_exact(arrays, X[:400])


def test_leaves_with_more_path_fields_than_a_table_holds_are_computed_at_scoring_time():
    booster, X = fitted(n_fields=30, max_leaf_nodes=64)
    arrays = trees.from_hist_gradient_boosting(booster)
    tables = arrays.leaf_tables
    assert tables is not None
    depth = np.diff(tables.path_start)
    assert (depth > treeshap.MAX_TABLE_FEATURES).any(), "the model should have deep leaves"
    assert (tables.table_start[depth > treeshap.MAX_TABLE_FEATURES] == -1).all()
    assert_exact(arrays, X[:400])
    assert_exact(arrays, hard_values(arrays, X[:200]))


def test_a_model_with_more_fields_than_the_marks_hold_keeps_the_walk():
    booster, X = fitted(n_fields=treeshap.MAX_FIELDS + 6)
    arrays = trees.from_hist_gradient_boosting(booster)
    if int(arrays.links[:, 0].max()) < treeshap.MAX_FIELDS:  # make a split use a high field
        links = arrays.links.copy()
        links[np.flatnonzero(links[:, 0] >= 0)[0], 0] = treeshap.MAX_FIELDS
        arrays = dataclasses.replace(arrays, links=links)
    assert treeshap.from_tree_arrays(arrays) is None
    fast = trees.contributions(arrays, X[:50])
    np.testing.assert_array_equal(fast, trees.contributions(arrays, X[:50], walk=True))


def test_one_leaf_table_row_is_the_walk_of_that_leaf():
    """A one-split tree by hand: the leaf tables hold TreeSHAP's textbook values."""
    arrays = trees.TreeArrays(
        roots=np.array([0]),
        links=np.array([[0, 1, 2, -1], [-1, 0, 0, -1], [-1, 0, 0, -1]], dtype=np.int32),
        split=np.array([0.5, 1.0, 3.0]),
        missing_left=np.zeros(3, dtype=np.int8),
        cover=np.array([4.0, 1.0, 3.0]),
        category_left=np.zeros((0, 256), dtype=np.int8),
        baseline=0.0,
        max_depth=1,
    )
    X = np.array([[0.0], [1.0], [np.nan]])
    # expected value 0.25 * 1 + 0.75 * 3 = 2.5; a lead on the left gets 1 - 2.5
    np.testing.assert_allclose(trees.contributions(arrays, X)[:, 0], [-1.5, 0.5, 0.5])
    assert_exact_walk = trees.contributions(arrays, X, walk=True)
    np.testing.assert_allclose(trees.contributions(arrays, X), assert_exact_walk, atol=1e-15)
