"""Statistics every layer quotes: intervals, calibration error, period arithmetic."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def equal_frequency_bins(probability: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Indices of the leads in each of `n_bins` equally sized groups, by ascending probability."""
    order = np.argsort(probability, kind="stable")
    return [chunk for chunk in np.array_split(order, n_bins) if len(chunk)]


def calibration_table(y: np.ndarray, probability: np.ndarray, n_bins: int) -> pd.DataFrame:
    """Per equal-frequency bin: leads, mean predicted probability, observed conversion rate."""
    rows = [
        {
            "bin": i + 1,
            "leads": len(idx),
            "predicted": float(probability[idx].mean()),
            "observed": float(y[idx].mean()),
        }
        for i, idx in enumerate(equal_frequency_bins(probability, n_bins))
    ]
    return pd.DataFrame(rows)


Z_95 = 1.96  # the normal quantile of every 95 % interval the reports quote


def wilson_interval(conversions: int, leads: int, z: float = Z_95) -> tuple[float, float]:
    """95 % Wilson score interval of a conversion rate (sound for small groups and 0 or 1)."""
    if leads == 0:
        return 0.0, 1.0
    rate = conversions / leads
    denominator = 1 + z**2 / leads
    centre = (rate + z**2 / (2 * leads)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / leads + z**2 / (4 * leads**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def conversion_figures(conversions: int, leads: int) -> dict[str, Any]:
    """A group's leads, conversions, conversion (None without leads) and its 95 % Wilson
    interval: how every report and check quotes a conversion rate."""
    low, high = wilson_interval(conversions, leads)
    return {
        "leads": leads,
        "conversions": conversions,
        "conversion": conversions / leads if leads else None,
        "conversion_ci_low": low,
        "conversion_ci_high": high,
    }


def wilson_centre(conversions: float, leads: int, z: float = Z_95) -> float:
    """The centre of the Wilson interval: a conversion rate shrunk away from 0 and 1."""
    return (conversions + z**2 / 2) / (leads + z**2)


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, n_bins: int = 10) -> float:
    """Lead-weighted mean |predicted - observed| over equal-frequency bins."""
    table = calibration_table(y, probability, n_bins)
    weights = table["leads"] / table["leads"].sum()
    return float((weights * (table["predicted"] - table["observed"]).abs()).sum())


def roc_auc_interval(
    y: np.ndarray, probability: np.ndarray, z: float = Z_95
) -> tuple[float, float]:
    """95 % interval of the ROC AUC (Hanley & McNeil standard error), clipped to [0, 1]."""
    from sklearn.metrics import roc_auc_score  # here: the view stages quote Wilson intervals
    # without loading scikit-learn

    auc = roc_auc_score(y, probability)
    n_pos = int(y.sum())
    return auc_interval(float(auc), n_pos, int(len(y) - n_pos), z)


def auc_interval(auc: float, n_pos: int, n_neg: int, z: float = Z_95) -> tuple[float, float]:
    """The interval of `roc_auc_interval` from the AUC and the outcome counts alone."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    half = z * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def tied_roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """`roc_auc_score(y, score)`, bit for bit, computed on one row per distinct score and outcome
    weighted by its count: the curve's counts are the same whole numbers, so the same AUC, at a
    fraction of the cost when many leads share a score (a category's rate, a missing flag)."""
    from sklearn.metrics import roc_auc_score

    values, inverse = np.unique(np.asarray(score, dtype=float), return_inverse=True)
    positives = np.bincount(inverse, weights=np.asarray(y, dtype=float), minlength=len(values))
    negatives = np.bincount(inverse, minlength=len(values)) - positives
    outcome = np.repeat([1, 0], len(values))
    return float(
        roc_auc_score(
            outcome, np.concatenate([values, values]), sample_weight=np.r_[positives, negatives]
        )
    )


def weighted_aucs(y: np.ndarray, score: np.ndarray, weights: Iterable[np.ndarray]) -> list[float]:
    """ROC AUC (ties counted half) of the leads repeated `w[i]` times, for each `w` in
    `weights` (a bootstrap resample is its leads' counts): the scores are sorted once, and each
    AUC is a count of (converted, unconverted) pairs in order over the distinct scores, exact
    to the last bit of one division (sklearn's curve may differ from it there)."""
    values, inverse = np.unique(np.asarray(score, dtype=float), return_inverse=True)
    positive = np.asarray(y) == 1
    aucs = []
    for w in weights:
        pos = np.bincount(inverse, weights=np.where(positive, w, 0), minlength=len(values))
        neg = np.bincount(inverse, weights=np.where(positive, 0, w), minlength=len(values))
        below = np.cumsum(neg) - neg
        aucs.append(float((pos * (below + neg / 2)).sum() / (pos.sum() * neg.sum())))
    return aucs


DAYS_PER_MONTH = 365.25 / 12


def period_months(created_at: pd.Series) -> float:
    """Length in months of the period the leads were created in (first to last day)."""
    created = pd.to_datetime(created_at)
    return max(1.0, float((created.max() - created.min()).days + 1) / DAYS_PER_MONTH)
