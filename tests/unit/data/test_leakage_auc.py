"""The leakage review's single-field measure on hand-built leads: the folds, the out-of-fold
rates (numbers in ten bins, missing as a value) and the AUC folded to >= 0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.core.stats import auc_interval
from leadscore.data.leakage_auc import fold_numbers, folded_auc, out_of_fold_scores, text_groups


def test_each_fold_holds_its_share_of_each_outcome():
    y = np.array([1] * 10 + [0] * 20)
    fold = fold_numbers(y, 5)
    assert sorted(set(fold.tolist())) == [0, 1, 2, 3, 4]
    for number in range(5):
        assert y[fold == number].tolist().count(1) == 2
        assert (fold == number).sum() == 6
    assert fold_numbers(y, 5).tolist() == fold.tolist()  # the same for every field
    assert fold_numbers(y, 5, seed=1).tolist() != fold.tolist()
    assert fold_numbers(y, 3).max() == 2


def partition(groups: np.ndarray) -> list[int]:
    """Which leads share a group (group numbers in order of first appearance)."""
    return pd.factorize(groups)[0].tolist()


def test_leads_share_a_group_by_value_and_missing_ones_share_one():
    assert partition(text_groups(pd.Series([2.0, np.nan, 2.0, 1.5, np.nan]))) == [0, 1, 0, 2, 1]
    mixed = pd.Series(["b", None, "b", "(missing)"], dtype=object)
    assert partition(text_groups(mixed)) == [0, 1, 0, 1]
    assert partition(text_groups(pd.Series([3, 1, 3]))) == [0, 1, 0]
    assert partition(text_groups(pd.Series([0.0, -0.0]))) == [0, 1]  # "0.0" and "-0.0"


def test_many_numbers_fall_into_ten_bins():
    values = pd.Series(np.arange(40, dtype=float))  # 4 leads a bin, in order
    y = np.array(([1] * 4 + [0] * 4) * 5)  # bins alternate: every lead of a bin alike
    fold = np.array([0, 1] * 20)
    scores = out_of_fold_scores(values, "numeric", y, fold)
    assert scores.tolist() == y.astype(float).tolist()  # each bin's rate in the other fold
    # ten or fewer distinct numbers are their own groups
    few = pd.Series([1.0, 2.0] * 20)
    assert set(out_of_fold_scores(few, "numeric", y, fold).tolist()) <= {0.4, 0.6, 0.5}


def test_a_number_that_does_not_read_is_missing():
    values = pd.Series(["1", "x", "1", None], dtype=object)
    y = np.array([1, 0, 1, 0])
    fold = np.array([0, 1, 1, 0])
    # "x" and None are one missing group: lead 1 (fold 1) sees lead 3 (fold 0), unconverted
    assert out_of_fold_scores(values, "numeric", y, fold).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_a_value_the_other_folds_never_saw_gets_their_base_rate():
    values = pd.Series(["a", "b", "c", "d"], dtype=object)
    y = np.array([1, 0, 0, 0])
    fold = np.array([0, 0, 1, 1])
    # fold 0's leads see fold 1's rate 0/2; fold 1's leads see fold 0's rate 1/2
    assert out_of_fold_scores(values, "categorical", y, fold).tolist() == [0.0, 0.0, 0.5, 0.5]


def test_an_auc_below_one_half_is_folded_with_its_interval():
    y = np.array([1, 1, 0, 0])
    auc, low, high = folded_auc(y, np.array([0.9, 0.8, 0.2, 0.1]))
    assert auc == 1.0 and (low, high) == auc_interval(1.0, 2, 2)
    backwards, low_b, high_b = folded_auc(y, np.array([0.1, 0.2, 0.8, 0.9]))
    expected_low, expected_high = auc_interval(0.0, 2, 2)
    assert backwards == 1.0
    assert (low_b, high_b) == pytest.approx((1 - expected_high, 1 - expected_low))
    assert folded_auc(y, np.array([0.5, 0.5, 0.5, 0.5]))[0] == 0.5
    mixed = folded_auc(y, np.array([0.9, 0.3, 0.5, 0.2]))  # 3 of 4 pairs ranked right
    assert mixed[0] == 0.75


def test_a_backwards_auc_is_folded_with_its_interval_mirrored():
    y = np.array([1, 1, 0, 0])
    auc, low, high = folded_auc(y, np.array([0.1, 0.7, 0.5, 0.8]))  # 1 of 4 pairs right
    raw_low, raw_high = auc_interval(0.25, 2, 2)
    assert auc == 0.75 and (low, high) == pytest.approx((1 - raw_high, 1 - raw_low))
    assert folded_auc(y, np.array([0.9, 0.3, 0.5, 0.2]))[1:] == auc_interval(0.75, 2, 2)
