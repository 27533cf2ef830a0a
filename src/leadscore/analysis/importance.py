"""Importance stage: what drives the score, by original input field, and where the model is weak.

- Permutation importance on the test period: the drop in ROC AUC (in AUC points) when one
  field's values are shuffled across leads, mean and spread over repeats. Each input field is
  one column of the encoded matrix (categories are ordinal codes, not one-hot), so a field is
  shuffled as a whole.
- Mean absolute contribution (in log-odds) per field: TreeSHAP for a booster, the exact
  per-field terms for a logistic regression; and dependence plots of the top fields: how a
  field's contribution moves with its value.
- Segments: AUC, conversion and calibration per channel and per company-size band.

Both measures run on the compiled scorer (the same numbers as the sklearn Pipeline, much
faster) and on stratified subsamples of at most `importance.max_rows` / `importance.shap_rows`
test leads; the report states the sizes and the spread, so the error is visible.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.analysis.evaluate import PROBABILITY
from leadscore.core import fields
from leadscore.core.stats import Z_95, expected_calibration_error, roc_auc_interval
from leadscore.scoring.scorer import Scorer

log = logging.getLogger(__name__)

TOP_DEPENDENCE = 5
SEGMENT_FIELDS = (fields.CHANNEL, "company_size")


def stratified_sample(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Row indices of at most `size` leads, keeping the share of conversions."""
    if len(y) <= size:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked = []
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        take = round(size * len(rows) / len(y))
        picked.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(picked))


def permutation_importance(
    scorer: Scorer, matrix: np.ndarray, y: np.ndarray, repeats: int, seed: int
) -> pd.DataFrame:
    """AUC drop per field when its column is shuffled: mean and standard deviation.

    Only the part of the raw score that depends on the field can change (the trees that split
    on it, or the field's term of a regression), so each shuffle re-scores just that part,
    which gives exactly the full model's answer.
    """
    rng = np.random.default_rng(seed)
    raw = scorer.raw_output(matrix)
    reference = roc_auc_score(y, scorer.probability(raw))
    rows = []
    shuffled = matrix.copy()
    for j, name in enumerate(scorer.fields):
        drops = []
        if scorer.uses_field(j):
            rest = raw - scorer.field_output(matrix, j)
            for _ in range(repeats):
                shuffled[:, j] = rng.permutation(matrix[:, j])
                changed = rest + scorer.field_output(shuffled, j)
                drops.append(reference - roc_auc_score(y, scorer.probability(changed)))
            shuffled[:, j] = matrix[:, j]
        else:  # the model never looks at this field
            drops = [0.0] * repeats
        rows.append(
            {
                "field": name,
                "permutation_auc_mean": float(np.mean(drops)),
                "permutation_auc_std": float(np.std(drops, ddof=1)) if repeats > 1 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def mean_abs_contribution(scorer: Scorer, matrix: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Mean |contribution| per field (log-odds), and the contributions themselves."""
    contributions = scorer.contributions(matrix)
    return pd.Series(np.abs(contributions).mean(axis=0), index=list(scorer.fields)), contributions


def importance_table(permutation: pd.DataFrame, shap_means: pd.Series) -> pd.DataFrame:
    table = permutation.assign(mean_abs_shap=permutation["field"].map(shap_means).to_numpy())
    table = table.sort_values(
        ["permutation_auc_mean", "mean_abs_shap"], ascending=False, kind="stable"
    )
    return table.assign(rank=np.arange(1, len(table) + 1)).reset_index(drop=True)


def segment_table(scored: pd.DataFrame, n_bins: int) -> pd.DataFrame:
    """AUC, conversion, mean predicted probability and calibration error per segment."""
    rows = []
    for segment in SEGMENT_FIELDS:
        if segment not in scored:
            continue
        for value, part in scored.groupby(segment, observed=True):
            y = part[fields.CONVERTED].to_numpy(int)
            probability = part[PROBABILITY].to_numpy()
            both = 0 < y.sum() < len(y)
            rows.append(
                {
                    "segment": segment,
                    "value": str(value),
                    "leads": len(part),
                    "conversion": float(y.mean()),
                    "predicted": float(probability.mean()),
                    "roc_auc": float(roc_auc_score(y, probability)) if both else np.nan,
                    "ece": expected_calibration_error(y, probability, min(n_bins, len(y))),
                }
            )
    return pd.DataFrame(rows)


# --- figures -------------------------------------------------------------------------------


def importance_figure(table: pd.DataFrame, top: int = 15):
    import matplotlib.pyplot as plt

    shown = table.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(shown) + 1.2))
    axis.barh(
        shown["field"],
        shown["permutation_auc_mean"] * 100,
        xerr=shown["permutation_auc_std"] * 100,
        color="#2b6cb0",
    )
    axis.set_xlabel("AUC points lost when the field is shuffled (test period)")
    axis.set_title("What drives the score")
    figure.tight_layout()
    return figure


def dependence_figure(name: str, values: pd.Series, contribution: np.ndarray, categorical: bool):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.6))
    if categorical:
        means = (
            pd.DataFrame({"value": values.astype("string").fillna("(missing)"), "c": contribution})
            .groupby("value")["c"]
            .mean()
            .sort_values()
        )
        means = (
            pd.concat([means.head(8), means.tail(8)]).drop_duplicates()
            if len(means) > 16
            else means
        )
        axis.barh(means.index, means.to_numpy(), color="#2b6cb0")
        axis.set_xlabel("mean contribution to the score (log-odds)")
    else:
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        axis.scatter(numeric, contribution, s=4, alpha=0.3, color="#2b6cb0")
        axis.set_xlabel(name.replace("_", " "))
        axis.set_ylabel("contribution (log-odds)")
    axis.axvline(0, color="#999", lw=0.5) if categorical else axis.axhline(0, color="#999", lw=0.5)
    axis.set_title(f"How the score moves with {name.replace('_', ' ')}")
    figure.tight_layout()
    return figure


# --- the stage -----------------------------------------------------------------------------


def compute(scorer: Scorer, scored: pd.DataFrame, params) -> dict:
    """All importance figures for one model on one scored test period (no file I/O).

    `scored` is the evaluate stage's test table with its `probability` column, so segments
    need no re-scoring; only the stratified subsamples are encoded and scored again.
    """
    started = time.perf_counter()
    y_all = scored[fields.CONVERTED].to_numpy(int)
    rows = stratified_sample(y_all, params.max_rows, params.seed)
    matrix, _, _ = scorer.encode_frame(scored.iloc[rows])
    y = y_all[rows]
    permutation = permutation_importance(scorer, matrix, y, params.repeats, params.seed)
    shap_pick = stratified_sample(y, params.shap_rows, params.seed + 1)
    shap_means, contributions = mean_abs_contribution(scorer, matrix[shap_pick])
    table = importance_table(permutation, shap_means)
    low, high = roc_auc_interval(y, scorer.score(matrix).probability)
    segments = segment_table(scored, params.calibration_bins)
    return {
        "table": table,
        "segments": segments,
        "contributions": contributions,
        "shap_rows": rows[shap_pick],
        "summary": {
            "test_leads": len(scored),
            "permutation_rows": len(rows),
            "shap_rows": len(shap_pick),
            "repeats": params.repeats,
            "seconds": round(time.perf_counter() - started, 2),
            "largest_spread_auc_points": float(table["permutation_auc_std"].max() * 100),
            "subsample_auc_standard_error_points": round((high - low) / (2 * Z_95) * 100, 3),
            "top_fields": table["field"].head(5).tolist(),
        },
    }
