"""The leaf-bitset layout gives the node walk's raw output bit for bit, on every kind of value."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from leadscore.model.bundle import load_bundle
from leadscore.model.train import booster_of
from leadscore.scoring import bitsets, trees


@pytest.fixture(scope="module")
def tiny(tiny_bundle_dir, tiny_split):
    bundle = load_bundle(tiny_bundle_dir)
    spec = bundle.card.spec
    encoded = bundle.pipeline.named_steps["features"].transform(tiny_split.test[list(spec.fields)])
    return booster_of(bundle.pipeline), np.asarray(encoded, dtype=np.float64)


def hard_values(arrays: trees.TreeArrays, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rows built to sit on every edge: values exactly at a threshold and a hair either side,
    infinities, missing values, and category codes that are negative, fractional, 255 or above."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(X, -(-4000 // len(X)), axis=0)[:4000].copy()
    inner = ~arrays.is_leaf
    for f in range(X.shape[1]):
        numeric = inner & (arrays.links[:, 0] == f) & (arrays.links[:, 3] < 0)
        if numeric.any():
            cuts = arrays.split[numeric]
            nudge = rng.choice([-1e-9, 0.0, 0.0, 1e-9], len(rows))
            rows[:, f] = rng.choice(cuts, len(rows)) + nudge
            rows[rng.random(len(rows)) < 0.05, f] = np.inf
            rows[rng.random(len(rows)) < 0.05, f] = -np.inf
        else:
            odd = rng.random(len(rows)) < 0.2
            rows[odd, f] = rng.choice([-1.0, -0.2, 2.7, 254.0, 255.0, 255.5, 256.0, 1e9], odd.sum())
        rows[rng.random(len(rows)) < 0.05, f] = np.nan
    return rows


def assert_same_as_walk(arrays: trees.TreeArrays, X: np.ndarray) -> None:
    assert arrays.bitsets is not None
    fast, walked = trees.raw_scores(arrays, X), trees.raw_scores(arrays, X, walk=True)
    assert np.array_equal(fast, walked), np.max(np.abs(fast - walked))


def test_categorical_and_numeric_splits_score_bit_for_bit_as_the_walk(tiny):
    booster, X = tiny
    arrays = trees.from_hist_gradient_boosting(booster)
    assert arrays.category_left.shape[0] > 0, "the tiny model should have categorical splits"
    assert_same_as_walk(arrays, X)
    assert_same_as_walk(arrays, hard_values(arrays, X))
    np.testing.assert_allclose(
        trees.raw_scores(arrays, X), booster.decision_function(X), rtol=0, atol=1e-12
    )


def fitted(max_leaf_nodes: int, seed: int = 3) -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4000, 5))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values take the learned direction
    logit = np.nan_to_num(X[:, 0]) * 2 - np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2])
    y = rng.random(len(X)) < 1 / (1 + np.exp(-logit))
    model = HistGradientBoostingClassifier(
        max_iter=15, max_leaf_nodes=max_leaf_nodes, min_samples_leaf=5, random_state=0
    )
    return model.fit(X, y), X


def leaves_per_tree(arrays: trees.TreeArrays) -> np.ndarray:
    tree_of = np.searchsorted(arrays.roots, np.arange(len(arrays.links)), side="right") - 1
    return np.bincount(tree_of[arrays.is_leaf])


@pytest.mark.parametrize("max_leaf_nodes", [7, 31])  # 31: scikit-learn's default
def test_trees_of_up_to_32_leaves_take_the_bitsets(max_leaf_nodes):
    booster, X = fitted(max_leaf_nodes)
    arrays = trees.from_hist_gradient_boosting(booster)
    assert leaves_per_tree(arrays).max() == max_leaf_nodes
    assert_same_as_walk(arrays, X)
    assert_same_as_walk(arrays, hard_values(arrays, X[:500]))


def test_trees_wider_than_32_leaves_keep_the_walk():
    booster, X = fitted(max_leaf_nodes=40)
    arrays = trees.from_hist_gradient_boosting(booster)
    assert leaves_per_tree(arrays).max() > bitsets.MAX_LEAVES
    assert bitsets.from_tree_arrays(arrays) is None
    np.testing.assert_allclose(
        trees.raw_scores(arrays, X), booster.decision_function(X), rtol=0, atol=1e-12
    )


def test_too_few_columns_is_an_error(tiny):
    booster, X = tiny
    layout = trees.from_hist_gradient_boosting(booster).bitsets
    assert layout is not None
    with pytest.raises(ValueError, match="columns"):
        bitsets.raw_scores(layout, X[:, : layout.n_fields - 1], 0.0)
