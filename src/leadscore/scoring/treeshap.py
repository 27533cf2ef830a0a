"""Exact path-dependent TreeSHAP at table speed: each leaf's share precomputed per agreement set.

Path-dependent TreeSHAP (Lundberg et al., 2018; `scoring.trees._contributions`) walks every
node of every tree for each lead, extending and unwinding the "unique path" of the features met
on the way down: about 2 ms a lead on a 300-tree model. Most of that work does not depend on the
lead. Fast TreeSHAP v2 (Yang, 2021) moves it to load time:

- A leaf's share of the contributions is the Shapley value of a product game over the unique
  features on its path. Feature j has a zero fraction `z_j` (the training leads that follow the
  path's splits on j, as a share of those reaching them: a product of cover ratios) and a one
  fraction `o_j`, which for a given lead is 1 when the lead follows all of the path's splits on
  j and 0 otherwise.
- So a lead's share of a leaf with `d` unique path features depends only on which of them it
  agrees with: one of `2**d` agreement sets `A`. The `d` contributions of every `A` are computed
  once, with the same extend / unwound-sum arithmetic as the walk, and stored in a table.
- Scoring a lead then takes one pass over each tree's nodes in storage order (a child is stored
  after its parent): each node's split decision marks the features its cold child disagrees
  with, and each leaf reads its agreement set from those marks and adds `d` table entries.

Leaves with more than `MAX_TABLE_FEATURES` unique path features keep their `z_j` and are
computed at scoring time with the same leaf arithmetic (no table), so any model is served. The
result is the walk's result up to float rounding (tests hold both to 1e-9 of each other and the
sum to the raw output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from leadscore.scoring.split_rule import goes_left

if TYPE_CHECKING:
    from leadscore.scoring.trees import TreeArrays

MAX_TABLE_FEATURES = 12  # a leaf's table holds 2**d * d floats: 49,152 at most
MAX_FIELDS = 64  # a tree's disagreement marks fit one 64-bit word per node
# the leaf arrays as the kernels take them: leaf_of_node, path_start, path_feature, path_zero,
# table_start, table, path_local
LeafArrays = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]
PARALLEL_BLOCK = 8192  # rows a thread takes at a time in batch scoring
CACHE_SLOTS = 1 << 15  # a tree's cache of decision sets (half of it filled at most)
CACHE_MIN_ROWS = 4096  # fewer leads: no cache (it pays for itself on larger batches only)


@dataclass(frozen=True)
class LeafTables:
    """Per leaf (numbered in node order): its unique path features, their zero fractions and
    its table of contributions by agreement set (`table[start + A * d + k]`, -1: no table)."""

    leaf_of_node: np.ndarray  # int64 (n_nodes,): the leaf's number, -1 at inner nodes
    path_start: np.ndarray  # int64 (n_leaves + 1,)
    path_feature: np.ndarray  # int64: leaf l's features are path_feature[path_start[l]:...]
    path_zero: np.ndarray  # float64: their zero fractions
    table_start: np.ndarray  # int64 (n_leaves,)
    table: np.ndarray  # float64
    tree_feature_start: np.ndarray  # int64 (n_trees + 1,): tree t's fields are
    tree_features: np.ndarray  # int64: tree_features[tree_feature_start[t]:...]
    path_local: np.ndarray  # int64: each path feature's place among its tree's fields
    cacheable: bool  # every tree's split decisions fit a 64-bit cache key


@numba.njit(cache=True, nogil=True)
def _leaf_terms(
    zero: np.ndarray, agree: int, value: float, out: np.ndarray, buffers: np.ndarray
) -> None:
    """The contributions of one leaf (value `value`) to its d path features, for a lead that
    agrees with the features whose bit is set in `agree`: extend the unique path feature by
    feature, then one unwound sum per feature (the arithmetic of `trees._contributions`)."""
    d = zero.shape[0]
    zf, of, pw = buffers[0], buffers[1], buffers[2]
    zf[0], of[0], pw[0] = 1.0, 1.0, 1.0
    for depth in range(1, d + 1):
        z = zero[depth - 1]
        o = 1.0 if (agree >> (depth - 1)) & 1 else 0.0
        zf[depth], of[depth], pw[depth] = z, o, 0.0
        for i in range(depth - 1, -1, -1):
            pw[i + 1] += o * pw[i] * (i + 1) / (depth + 1)
            pw[i] = z * pw[i] * (depth - i) / (depth + 1)
    for k in range(1, d + 1):
        one, z = of[k], zf[k]
        next_one = pw[d]
        total = 0.0
        if one != 0.0:
            for i in range(d - 1, -1, -1):
                tmp = next_one / ((i + 1) * one)
                total += tmp
                next_one = pw[i] - tmp * z * (d - i)
        else:
            for i in range(d - 1, -1, -1):
                total += pw[i] / (z * (d - i))
        out[k - 1] = total * (d + 1) * (one - z) * value


@numba.njit(cache=True)
def _fill_tables(
    path_start: np.ndarray,
    path_zero: np.ndarray,
    leaf_value: np.ndarray,
    table_start: np.ndarray,
    table: np.ndarray,
) -> None:
    n_leaves = leaf_value.shape[0]
    buffers = np.zeros((3, MAX_TABLE_FEATURES + 2))
    for leaf in range(n_leaves):
        start = table_start[leaf]
        if start < 0:
            continue
        zero = path_zero[path_start[leaf] : path_start[leaf + 1]]
        d = zero.shape[0]
        for agree in range(1 << d):
            _leaf_terms(zero, agree, leaf_value[leaf], table[start + agree * d :], buffers)


def _unique_paths(arrays: TreeArrays) -> tuple[list[list[int]], list[list[float]], np.ndarray]:
    """Each leaf's unique path features (in the walk's order: a feature met again moves to the
    end) with their zero fractions, and the leaf nodes in node order."""
    links, cover = arrays.links, arrays.cover
    n_nodes = len(links)
    paths: list[tuple[list[int], list[float]] | None] = [None] * n_nodes
    for root in arrays.roots:
        paths[int(root)] = ([], [])
    for node in range(n_nodes):  # children are stored after their parent
        feature, left, right, _ = (int(v) for v in links[node])
        if feature < 0:
            continue
        entry = paths[node]
        assert entry is not None
        features, zeros = entry
        for child in (left, right):
            kept_features, kept_zeros, incoming = list(features), list(zeros), 1.0
            if feature in kept_features:
                at = kept_features.index(feature)
                incoming = kept_zeros.pop(at)
                kept_features.pop(at)
            ratio = cover[child] / cover[node] * incoming
            paths[child] = ([*kept_features, feature], [*kept_zeros, ratio])
    leaves = np.flatnonzero(arrays.is_leaf)
    features_of = [paths[int(n)][0] for n in leaves]  # type: ignore[index]
    zeros_of = [paths[int(n)][1] for n in leaves]  # type: ignore[index]
    return features_of, zeros_of, leaves


def from_tree_arrays(arrays: TreeArrays) -> LeafTables | None:
    """The leaf tables of the trees, or None when a tree's fields do not fit one 64-bit word."""
    if len(arrays.links) and int(arrays.links[:, 0].max()) >= MAX_FIELDS:
        return None
    features_of, zeros_of, leaves = _unique_paths(arrays)
    sizes = np.array([len(f) for f in features_of], dtype=np.int64)
    path_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cells = np.where(sizes <= MAX_TABLE_FEATURES, (1 << np.minimum(sizes, 62)) * sizes, 0)
    table_start = np.concatenate([[0], np.cumsum(cells)[:-1]]).astype(np.int64)
    table_start[sizes > MAX_TABLE_FEATURES] = -1
    leaf_of_node = np.full(len(arrays.links), -1, dtype=np.int64)
    leaf_of_node[leaves] = np.arange(len(leaves))
    path_feature = np.array([f for fs in features_of for f in fs], dtype=np.int64)
    path_zero = np.array([z for zs in zeros_of for z in zs], dtype=np.float64)
    table = np.zeros(int(cells.sum()))
    _fill_tables(path_start, path_zero, arrays.split[leaves], table_start, table)
    tree_of_node = np.searchsorted(arrays.roots, np.arange(len(arrays.links)), side="right") - 1
    tree_of_leaf = tree_of_node[leaves]
    per_tree = [
        sorted({f for leaf in np.flatnonzero(tree_of_leaf == t) for f in features_of[leaf]})
        for t in range(len(arrays.roots))
    ]
    path_local = [
        per_tree[tree_of_leaf[leaf]].index(f) for leaf, fs in enumerate(features_of) for f in fs
    ]
    return LeafTables(
        leaf_of_node=leaf_of_node,
        path_start=path_start,
        path_feature=path_feature,
        path_zero=path_zero,
        table_start=table_start,
        table=table,
        tree_feature_start=np.concatenate([[0], np.cumsum([len(f) for f in per_tree])]).astype(
            np.int64
        ),
        tree_features=np.array([f for fs in per_tree for f in fs], dtype=np.int64),
        path_local=np.array(path_local, dtype=np.int64),
        cacheable=bool(np.bincount(tree_of_node[~arrays.is_leaf], minlength=1).max() <= 64),
    )


@numba.njit(cache=True, nogil=True)
def _tree_terms(
    x: np.ndarray,
    first: int,
    stop: int,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
    tables: LeafArrays,
    marks: np.ndarray,
    terms: np.ndarray,
    buffers: np.ndarray,
    out: np.ndarray,
) -> None:
    """One tree's contributions for one lead, by its fields (`out[local]`, zeroed first): one
    pass over the tree's nodes marking disagreements, then each leaf's table row."""
    leaf_of_node, path_start, path_feature, path_zero, table_start, table, path_local = tables
    out[:] = 0.0
    marks[first] = 0
    for node in range(first, stop):
        feature = links[node, 0]
        if feature >= 0:
            left, right = links[node, 1], links[node, 2]
            bit = np.uint64(1) << np.uint64(feature)
            if goes_left(node, x[feature], links, split, missing_left, category_left):
                marks[left] = marks[node]
                marks[right] = marks[node] | bit
            else:
                marks[left] = marks[node] | bit
                marks[right] = marks[node]
            continue
        leaf = leaf_of_node[node]
        p0 = path_start[leaf]
        d = path_start[leaf + 1] - p0
        disagree = marks[node]
        agree = 0
        for k in range(d):
            if not (disagree >> np.uint64(path_feature[p0 + k])) & np.uint64(1):
                agree |= 1 << k
        start = table_start[leaf]
        if start >= 0:
            base = start + agree * d
            for k in range(d):
                out[path_local[p0 + k]] += table[base + k]
        else:
            _leaf_terms(path_zero[p0 : p0 + d], agree, split[node], terms, buffers)
            for k in range(d):
                out[path_local[p0 + k]] += terms[k]


@numba.njit(cache=True, nogil=True)
def _decisions(
    x: np.ndarray,
    first: int,
    stop: int,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
) -> np.uint64:
    """The lead's split decision at each inner node of one tree, as bits (its cache key)."""
    key = np.uint64(0)
    bit = np.uint64(0)
    for node in range(first, stop):
        feature = links[node, 0]
        if feature >= 0:
            if goes_left(node, x[feature], links, split, missing_left, category_left):
                key |= np.uint64(1) << bit
            bit += np.uint64(1)
    return key


@numba.njit(cache=True, nogil=True)
def _contributions(
    X: np.ndarray,
    roots: np.ndarray,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
    tables: LeafArrays,
    tree_feature_start: np.ndarray,
    tree_features: np.ndarray,
    cacheable: bool,
) -> np.ndarray:
    """Trees outside, leads inside. A tree's contributions depend only on the lead's split
    decisions in it, and a large batch repeats them (95 % of (lead, tree) pairs in 50,000
    built-in leads): from `CACHE_MIN_ROWS` leads on, each decision set's terms are computed once
    per tree and reused from an open-addressing cache, the same floats either way (about 1.4x
    faster at 20,000 leads; below a few thousand leads the misses cost more than the hits
    save)."""
    n, n_nodes, n_trees = X.shape[0], links.shape[0], roots.shape[0]
    out = np.zeros((n, X.shape[1]))
    marks = np.zeros(n_nodes, dtype=np.uint64)
    terms = np.zeros(64)
    buffers = np.zeros((3, 66))
    widest = 1
    for t in range(n_trees):
        widest = max(widest, tree_feature_start[t + 1] - tree_feature_start[t])
    tree_out = np.zeros(widest)
    capacity = 1
    while capacity < 2 * n and capacity < CACHE_SLOTS:
        capacity *= 2
    cached = cacheable and n >= CACHE_MIN_ROWS
    keys = np.zeros(capacity if cached else 1, dtype=np.uint64)
    used = np.zeros(capacity if cached else 1, dtype=np.bool_)
    store = np.zeros(((capacity if cached else 1), widest))
    for t in range(n_trees):
        first = roots[t]
        stop = roots[t + 1] if t + 1 < n_trees else n_nodes
        f0, m = tree_feature_start[t], tree_feature_start[t + 1] - tree_feature_start[t]
        used[:] = False
        filled = 0
        for i in range(n):
            x = X[i]
            slot = -1
            if cached:
                key = _decisions(x, first, stop, links, split, missing_left, category_left)
                slot = int((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & (capacity - 1)
                while used[slot] and keys[slot] != key:
                    slot = (slot + 1) & (capacity - 1)
                if used[slot]:
                    for local in range(m):
                        out[i, tree_features[f0 + local]] += store[slot, local]
                    continue
            _tree_terms(
                x, first, stop, links, split, missing_left, category_left, tables, marks,
                terms, buffers, tree_out,
            )  # fmt: skip
            for local in range(m):
                out[i, tree_features[f0 + local]] += tree_out[local]
            if cached and 2 * filled < capacity:
                used[slot], keys[slot] = True, key
                store[slot, :m] = tree_out[:m]
                filled += 1
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _contributions_in_blocks(
    X: np.ndarray,
    roots: np.ndarray,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
    tables: LeafArrays,
    tree_feature_start: np.ndarray,
    tree_features: np.ndarray,
    cacheable: bool,
) -> np.ndarray:
    """`_contributions` on blocks of rows, one block per thread (each row's sum is the same)."""
    out = np.zeros((X.shape[0], X.shape[1]))
    n_blocks = -(-X.shape[0] // PARALLEL_BLOCK)
    for b in numba.prange(n_blocks):
        lo = b * PARALLEL_BLOCK
        hi = min(lo + PARALLEL_BLOCK, X.shape[0])
        out[lo:hi] = _contributions(
            X[lo:hi], roots, links, split, missing_left, category_left, tables,
            tree_feature_start, tree_features, cacheable,
        )  # fmt: skip
    return out


def contributions(
    arrays: TreeArrays, tables: LeafTables, X: np.ndarray, parallel: bool = False
) -> np.ndarray:
    """TreeSHAP value of every input column for every row (encoded inputs, float64).

    `parallel`: blocks of rows on numba's threads (batch scoring, one caller at a time; the API
    scores from several threads and keeps to one thread each)."""
    kernel = _contributions_in_blocks if parallel and len(X) > PARALLEL_BLOCK else _contributions
    leaves = (
        tables.leaf_of_node, tables.path_start, tables.path_feature, tables.path_zero,
        tables.table_start, tables.table, tables.path_local,
    )  # fmt: skip
    out: np.ndarray = kernel(
        np.ascontiguousarray(X, dtype=np.float64), arrays.roots, arrays.links, arrays.split,
        arrays.missing_left, arrays.category_left, leaves, tables.tree_feature_start,
        tables.tree_features, tables.cacheable,
    )  # fmt: skip
    return out
