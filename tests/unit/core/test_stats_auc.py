"""The AUC counted per distinct score is sklearn's AUC, bit for bit, and its interval too."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.core.stats import auc_interval, roc_auc_interval, tied_roc_auc, weighted_aucs


@pytest.mark.parametrize("shape", ["continuous", "few values", "flag", "rounded"])
def test_tied_auc_is_sklearns_auc_bit_for_bit(shape):
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(5, 2000))
        y = (rng.random(n) < rng.uniform(0.05, 0.9)).astype(int)
        if y.sum() in (0, n):
            continue
        score = {
            "continuous": rng.random(n),
            "few values": rng.integers(0, 5, n).astype(float),
            "flag": (rng.random(n) < 0.3).astype(float),
            "rounded": np.round(rng.random(n) * y + rng.random(n), 2),
        }[shape]
        assert tied_roc_auc(y, score) == roc_auc_score(y, score)


def test_the_interval_from_the_auc_and_the_counts_is_the_interval_of_the_scores():
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.2).astype(int)
    score = rng.random(3000) + y * 0.3
    auc = tied_roc_auc(y, score)
    assert auc_interval(auc, int(y.sum()), int(len(y) - y.sum())) == roc_auc_interval(y, score)


def test_the_auc_of_a_resample_is_counted_on_its_leads_counts():
    rng = np.random.default_rng(3)
    y = (rng.random(4000) < 0.15).astype(int)
    score = np.round(rng.random(4000) * 0.6 + 0.3 * y, 3)  # ties, as a calibrated score has
    rows = [rng.choice(len(y), len(y)) for _ in range(20)]
    counted = weighted_aucs(y, score, (np.bincount(r, minlength=len(y)) for r in rows))
    expanded = [roc_auc_score(y[r], score[r]) for r in rows]
    np.testing.assert_allclose(counted, expanded, rtol=0, atol=1e-12)
