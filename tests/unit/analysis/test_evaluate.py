"""Unit tests of the evaluation metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.analysis.evaluate import calibration_table, curves, evaluate, thin, top_share_stats
from leadscore.core.stats import expected_calibration_error


def test_ece_of_perfectly_calibrated_bins_is_zero():
    probability = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(y, probability, n_bins=2) == pytest.approx(0.0)


def test_ece_hand_computed():
    # two bins of 2: predicted 0.1 vs observed 0.5, predicted 0.9 vs observed 1.0
    probability = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    assert expected_calibration_error(y, probability, n_bins=2) == pytest.approx(0.25)


def test_calibration_table_uses_equal_frequency_bins():
    probability = np.linspace(0, 1, 100)
    table = calibration_table(np.zeros(100, dtype=int), probability, n_bins=10)
    assert table["leads"].tolist() == [10] * 10
    assert table["predicted"].is_monotonic_increasing


def test_top_share_lift_hand_computed():
    # 10 leads, 2 conversions; the top 20 % (2 leads) holds one of them
    probability = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.1, 0.7, 0.1, 0.1, 0.1])
    y = np.array([1, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    stats = top_share_stats(y, probability, share=0.2)
    assert stats["top_lift"] == pytest.approx(0.5 / 0.2)
    assert stats["top_conversion_share"] == pytest.approx(0.5)


def test_thin_keeps_ends_and_limits_points():
    frame = pd.DataFrame({"x": np.arange(1000)})
    thinned = thin(frame, max_points=50)
    assert len(thinned) <= 50
    assert thinned["x"].iloc[0] == 0 and thinned["x"].iloc[-1] == 999


def test_curves_have_the_expected_shape():
    rng = np.random.default_rng(0)
    probability = rng.random(500)
    y = (rng.random(500) < probability).astype(int)
    tables = curves(y, probability, n_bins=10)
    assert set(tables) == {"roc", "precision_recall", "calibration", "gain"}
    gain = tables["gain"]
    assert gain.iloc[0].tolist() == [0.0, 0.0] and gain.iloc[-1].tolist() == [1.0, 1.0]


def test_evaluate_reports_oracle_baseline_and_channels():
    rng = np.random.default_rng(1)
    n = 2000
    truth = rng.beta(1, 8, n)
    y = rng.random(n) < truth
    test = pd.DataFrame({"converted": y, "channel": rng.choice(["email", "events"], n)})
    metrics = evaluate(test, truth, rng.random(n), pd.Series(truth), n_bins=10, top_share=0.1)
    assert metrics["oracle_roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert metrics["baseline_roc_auc"] == pytest.approx(0.5, abs=0.06)
    assert set(metrics["per_channel"]) == {"email", "events"}
    assert sum(m["leads"] for m in metrics["per_channel"].values()) == n
