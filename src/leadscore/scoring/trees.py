"""Flat arrays of a fitted gradient-boosting model: fast raw scores and exact tree contributions.

`shap.TreeExplainer` reads scikit-learn's HistGradientBoosting trees through their numeric
thresholds only; it ignores native categorical splits (bitsets), so on our model its values do
not add up to the model's output. This module keeps the trees exactly as scikit-learn predicts
them (numeric thresholds, categorical bitsets, missing-value directions, unknown categories
treated as missing) and runs two numba kernels over them:

- `raw_scores`: the booster's raw output (log-odds), what `decision_function` returns; scoring
  all trees goes through their leaf-bitset layout (`scoring.bitsets`), the same floats faster;
- `contributions`: path-dependent TreeSHAP (Lundberg et al., 2018, algorithm 2) on the same
  splits, so that base value + contributions == raw output, for every lead; served through
  per-leaf tables (`scoring.treeshap`, Fast TreeSHAP v2), the walk kept as their reference.

Tests check both against scikit-learn's own predictions and, on a model without categorical
splits, against `shap.TreeExplainer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numba
import numpy as np

from leadscore.scoring import bitsets, treeshap
from leadscore.scoring.split_rule import goes_left


@dataclass(frozen=True)
class TreeArrays:
    """All trees of one booster, node arrays concatenated; `roots[t]` is tree t's first node.

    `links[n]` = (feature, left, right, category row) as int32, feature -1 at leaves;
    `split[n]` is the threshold of a numeric split (go left when value <= it) and the leaf
    value at leaves. Packed this way a lead walks all trees in a few microseconds.
    """

    roots: np.ndarray  # int64 (n_trees,)
    links: np.ndarray  # int32 (n_nodes, 4)
    split: np.ndarray  # float64 (n_nodes,)
    missing_left: np.ndarray  # int8: 1 when a missing (or unknown category) value goes left
    cover: np.ndarray  # float64: training leads through the node
    category_left: np.ndarray  # int8 (n_cat_splits, 256): 1 left, 0 right, -1 treat as missing
    baseline: float  # the booster's constant term (log-odds of the base rate)
    max_depth: int

    @property
    def is_leaf(self) -> np.ndarray:
        return self.links[:, 0] < 0

    @cached_property
    def bitsets(self) -> bitsets.LeafBitsets | None:
        """The same trees as leaf bitsets (`scoring.bitsets`): the fast path of `raw_scores`."""
        return bitsets.from_tree_arrays(self)

    @cached_property
    def leaf_tables(self) -> treeshap.LeafTables | None:
        """Each leaf's TreeSHAP share by agreement set: `contributions`' fast path."""
        return treeshap.from_tree_arrays(self)


def _bits(bitset: np.ndarray) -> np.ndarray:
    """A scikit-learn category bitset (8 uint32 words) as 256 booleans, code by code."""
    words = np.ascontiguousarray(bitset, dtype="<u4")
    return np.unpackbits(words.view(np.uint8), bitorder="little").astype(bool)


def from_hist_gradient_boosting(booster: Any) -> TreeArrays:
    """Flatten a fitted binary `HistGradientBoostingClassifier` into `TreeArrays`."""
    if booster.n_trees_per_iteration_ != 1:
        raise ValueError("only binary classifiers (one tree per iteration) are supported")
    known_bitsets, feature_to_row = booster._bin_mapper.make_known_categories_bitsets()
    columns: dict[str, list[Any]] = {
        k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "is_leaf")
    }
    columns.update(value=[], cover=[], category_row=[])
    category_rows: list[np.ndarray] = []
    roots, offset, max_depth = [], 0, 0
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes
        roots.append(offset)
        max_depth = max(max_depth, int(nodes["depth"].max()))
        for node in nodes:
            leaf = bool(node["is_leaf"])
            columns["feature"].append(-1 if leaf else int(node["feature_idx"]))
            columns["threshold"].append(float(node["num_threshold"]))
            columns["missing_left"].append(bool(node["missing_go_to_left"]))
            columns["left"].append(offset + int(node["left"]))
            columns["right"].append(offset + int(node["right"]))
            columns["is_leaf"].append(leaf)
            columns["value"].append(float(node["value"]))
            columns["cover"].append(float(node["count"]))
            if not leaf and node["is_categorical"]:
                left_set = predictor.raw_left_cat_bitsets[node["bitset_idx"]]
                known = known_bitsets[feature_to_row[node["feature_idx"]]]
                row = np.where(_bits(left_set), 1, np.where(_bits(known), 0, -1)).astype(np.int8)
                columns["category_row"].append(len(category_rows))
                category_rows.append(row)
            else:
                columns["category_row"].append(-1)
        offset += len(nodes)
    category_left = np.vstack([np.zeros((0, bitsets.N_CATEGORY_CODES), np.int8), *category_rows])
    is_leaf = np.asarray(columns["is_leaf"], dtype=bool)
    links = np.column_stack(
        [columns["feature"], columns["left"], columns["right"], columns["category_row"]]
    ).astype(np.int32)
    return TreeArrays(
        roots=np.asarray(roots, dtype=np.int64),
        links=links,
        split=np.where(is_leaf, columns["value"], columns["threshold"]).astype(np.float64),
        missing_left=np.asarray(columns["missing_left"], dtype=np.int8),
        cover=np.asarray(columns["cover"], dtype=np.float64),
        category_left=category_left,
        baseline=float(np.ravel(booster._baseline_prediction)[0]),
        max_depth=max_depth,
    )


# --- numba kernels ------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _raw_scores(
    X: np.ndarray,
    roots: np.ndarray,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
    baseline: float,
) -> np.ndarray:
    # The split decision of `goes_left`, written out inline on purpose: in this hottest loop
    # numba's IR-level inlining of the helper runs 1.6x slower than the same lines in place.
    # pylint: disable=duplicate-code
    out = np.full(X.shape[0], baseline)
    for t in range(roots.shape[0]):  # trees outside: one tree's nodes stay in cache
        root = roots[t]
        for i in range(X.shape[0]):
            node = root
            while True:
                feature = links[node, 0]
                if feature < 0:
                    break
                value = X[i, feature]
                row = links[node, 3]
                if np.isnan(value):
                    go_left = missing_left[node] == 1
                elif row >= 0:
                    if value < 0 or value >= 256:
                        go_left = missing_left[node] == 1
                    else:
                        side = category_left[row, int(value)]
                        go_left = (side == 1) or (side == -1 and missing_left[node] == 1)
                else:
                    go_left = value <= split[node]
                node = links[node, 1] if go_left else links[node, 2]
            out[i] += split[node]
    return out


@numba.njit(cache=True, nogil=True)
def _extend(
    fi: np.ndarray,
    zf: np.ndarray,
    of: np.ndarray,
    pw: np.ndarray,
    offset: int,
    depth: int,
    zero_fraction: float,
    one_fraction: float,
    feature_index: int,
) -> None:
    fi[offset + depth] = feature_index
    zf[offset + depth] = zero_fraction
    of[offset + depth] = one_fraction
    pw[offset + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        pw[offset + i + 1] += one_fraction * pw[offset + i] * (i + 1) / (depth + 1)
        pw[offset + i] = zero_fraction * pw[offset + i] * (depth - i) / (depth + 1)


@numba.njit(cache=True, nogil=True)
def _unwind(
    fi: np.ndarray,
    zf: np.ndarray,
    of: np.ndarray,
    pw: np.ndarray,
    offset: int,
    depth: int,
    index: int,
) -> None:
    one_fraction = of[offset + index]
    zero_fraction = zf[offset + index]
    next_one = pw[offset + depth]
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0.0:
            tmp = pw[offset + i]
            pw[offset + i] = next_one * (depth + 1) / ((i + 1) * one_fraction)
            next_one = tmp - pw[offset + i] * zero_fraction * (depth - i) / (depth + 1)
        else:
            pw[offset + i] = pw[offset + i] * (depth + 1) / (zero_fraction * (depth - i))
    for i in range(index, depth):
        fi[offset + i] = fi[offset + i + 1]
        zf[offset + i] = zf[offset + i + 1]
        of[offset + i] = of[offset + i + 1]


@numba.njit(cache=True, nogil=True)
def _unwound_sum(
    zf: np.ndarray, of: np.ndarray, pw: np.ndarray, offset: int, depth: int, index: int
) -> float:
    one_fraction = of[offset + index]
    zero_fraction = zf[offset + index]
    next_one = pw[offset + depth]
    total = 0.0
    if one_fraction != 0.0:
        for i in range(depth - 1, -1, -1):
            tmp = next_one / ((i + 1) * one_fraction)
            total += tmp
            next_one = pw[offset + i] - tmp * zero_fraction * (depth - i)
    else:
        for i in range(depth - 1, -1, -1):
            total += pw[offset + i] / (zero_fraction * (depth - i))
    return total * (depth + 1)


@numba.njit(cache=True, nogil=True)
def _contributions(
    X: np.ndarray,
    roots: np.ndarray,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    cover: np.ndarray,
    category_left: np.ndarray,
    max_depth: int,
) -> np.ndarray:
    """Path-dependent TreeSHAP, iterative: a depth-first stack instead of recursion.

    Each visited node keeps its copy of the "unique path" (features met on the way down with
    the fractions of leads that follow) in the buffers right after its parent's copy, so a
    sibling visited later still finds the parent's path intact.
    """
    n_features = X.shape[1]
    out = np.zeros((X.shape[0], n_features))
    size = (max_depth + 3) * (max_depth + 4) // 2 + 1
    fi = np.full(size, -1, dtype=np.int64)
    zf = np.zeros(size)
    of = np.zeros(size)
    pw = np.zeros(size)
    stack_size = 2 * (max_depth + 3)
    s_node = np.empty(stack_size, dtype=np.int64)
    s_depth = np.empty(stack_size, dtype=np.int64)
    s_parent = np.empty(stack_size, dtype=np.int64)
    s_feature = np.empty(stack_size, dtype=np.int64)
    s_zero = np.empty(stack_size)
    s_one = np.empty(stack_size)
    for i in range(X.shape[0]):
        phi = out[i]
        for t in range(roots.shape[0]):
            top = 0
            s_node[0], s_depth[0], s_parent[0], s_feature[0] = roots[t], 0, 0, n_features
            s_zero[0], s_one[0] = 1.0, 1.0
            top = 1
            while top > 0:
                top -= 1
                node, depth, parent = s_node[top], s_depth[top], s_parent[top]
                offset = parent + depth + 1
                for k in range(depth + 1):
                    fi[offset + k] = fi[parent + k]
                    zf[offset + k] = zf[parent + k]
                    of[offset + k] = of[parent + k]
                    pw[offset + k] = pw[parent + k]
                _extend(fi, zf, of, pw, offset, depth, s_zero[top], s_one[top], s_feature[top])
                if links[node, 0] < 0:
                    for k in range(1, depth + 1):
                        w = _unwound_sum(zf, of, pw, offset, depth, k)
                        phi[fi[offset + k]] += w * (of[offset + k] - zf[offset + k]) * split[node]
                    continue
                feature = links[node, 0]
                if goes_left(node, X[i, feature], links, split, missing_left, category_left):
                    hot, cold = links[node, 1], links[node, 2]
                else:
                    hot, cold = links[node, 2], links[node, 1]
                incoming_zero = 1.0
                incoming_one = 1.0
                index = 0
                while index <= depth:
                    if fi[offset + index] == feature:
                        break
                    index += 1
                if index != depth + 1:
                    incoming_zero = zf[offset + index]
                    incoming_one = of[offset + index]
                    _unwind(fi, zf, of, pw, offset, depth, index)
                    depth -= 1
                # cold first on the stack, so the hot child is visited first
                s_node[top], s_depth[top], s_parent[top], s_feature[top] = (
                    cold,
                    depth + 1,
                    offset,
                    feature,
                )
                s_zero[top], s_one[top] = cover[cold] / cover[node] * incoming_zero, 0.0
                top += 1
                s_node[top], s_depth[top], s_parent[top], s_feature[top] = (
                    hot,
                    depth + 1,
                    offset,
                    feature,
                )
                s_zero[top], s_one[top] = cover[hot] / cover[node] * incoming_zero, incoming_one
                top += 1
    return out


# --- public API ---------------------------------------------------------------------------


def raw_scores(
    trees: TreeArrays, X: np.ndarray, subset: np.ndarray | None = None, walk: bool = False
) -> np.ndarray:
    """The booster's raw output (log-odds) for each row of encoded inputs.

    With `subset` (tree indices), only those trees' sum, without the constant term. All trees
    go through their leaf-bitset layout when they fit it (the same floats, about 5x faster);
    `walk` forces the node-by-node walk.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if subset is None and not walk and trees.bitsets is not None:
        return bitsets.raw_scores(trees.bitsets, X, trees.baseline)
    roots, baseline = (
        (trees.roots, trees.baseline) if subset is None else (trees.roots[subset], 0.0)
    )
    out: np.ndarray = _raw_scores(
        X, roots, trees.links, trees.split,
        trees.missing_left, trees.category_left, baseline,
    )  # fmt: skip
    return out


def trees_using(trees: TreeArrays, feature: int) -> np.ndarray:
    """Indices of the trees that split on `feature` at least once."""
    tree_of_node = np.searchsorted(trees.roots, np.arange(len(trees.links)), side="right") - 1
    return np.unique(tree_of_node[trees.links[:, 0] == feature])


def base_value(trees: TreeArrays) -> float:
    """The expected raw output over the training leads: the start of every explanation."""
    expected = trees.split.copy()
    # children are stored after their parent, so one backwards pass fills every inner node
    for node in range(len(expected) - 1, -1, -1):
        feature, left, right, _ = trees.links[node]
        if feature >= 0:
            covered = trees.cover[left] * expected[left] + trees.cover[right] * expected[right]
            expected[node] = covered / trees.cover[node]
    return trees.baseline + float(expected[trees.roots].sum())


def contributions(
    trees: TreeArrays, X: np.ndarray, walk: bool = False, parallel: bool = False
) -> np.ndarray:
    """TreeSHAP value of every input column for every row; rows sum to raw - base value.

    Through the leaf tables (`scoring.treeshap`) when the trees fit them; `walk` forces the
    node walk (the tables' reference); `parallel` spreads a large batch over numba's threads."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not walk and trees.leaf_tables is not None:
        return treeshap.contributions(trees, trees.leaf_tables, X, parallel)
    out: np.ndarray = _contributions(
        X, trees.roots, trees.links, trees.split,
        trees.missing_left, trees.cover, trees.category_left, trees.max_depth,
    )  # fmt: skip
    return out
