"""Evaluate stage: quality, calibration and ranking of the model on the newest (test) leads.

Writes `reports/metrics.json` (DVC metrics), `data/processed/test_scored.parquet` (test leads
with probability, score and grade, for the contract, align and feedback views) and the ROC,
precision-recall, calibration and cumulative-gain curves as CSV files under `reports/plots/`
(DVC plots).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from leadscore.core import fields
from leadscore.core.card import ModelCard
from leadscore.core.config import EvaluateParams, Params, WarningParams
from leadscore.core.stats import (
    calibration_table,
    expected_calibration_error,
    roc_auc_interval,
    weighted_aucs,
)
from leadscore.model import health
from leadscore.model.train import refit_recipe

log = logging.getLogger(__name__)

PROBABILITY = "probability"
MAX_CURVE_POINTS = 200


def top_share_stats(y: np.ndarray, probability: np.ndarray, share: float) -> dict[str, float]:
    """Conversion lift of the top `share` of leads by score, and the share of conversions caught."""
    n_top = max(1, math.ceil(share * len(y)))
    top = np.argsort(-probability, kind="stable")[:n_top]
    base_rate = y.mean()
    caught = y[top].sum()
    return {
        "top_lift": float(y[top].mean() / base_rate) if base_rate > 0 else float("nan"),
        "top_conversion_share": float(caught / y.sum()) if y.sum() > 0 else float("nan"),
    }


def quality_metrics(
    y: np.ndarray, probability: np.ndarray, n_bins: int, top_share: float
) -> dict[str, Any]:
    """The full set of test-period figures for one group of leads."""
    metrics = {"leads": int(len(y)), "base_rate": float(y.mean())}
    if 0 < y.sum() < len(y):
        low, high = roc_auc_interval(y, probability)
        metrics.update(
            roc_auc=float(roc_auc_score(y, probability)),
            roc_auc_ci_low=low,
            roc_auc_ci_high=high,
            pr_auc=float(average_precision_score(y, probability)),
        )
    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    metrics.update(
        log_loss=float(log_loss(y, clipped, labels=[0, 1])),
        brier=float(brier_score_loss(y, probability)),
        ece=expected_calibration_error(y, probability, n_bins),
        **top_share_stats(y, probability, top_share),
    )
    return metrics


def per_group_metrics(
    frame: pd.DataFrame, group: str, n_bins: int, top_share: float
) -> dict[str, dict[str, float]]:
    return {
        str(value): quality_metrics(
            part[fields.CONVERTED].to_numpy(int), part[PROBABILITY].to_numpy(), n_bins, top_share
        )
        for value, part in frame.groupby(group, observed=True)
    }


def thin(frame: pd.DataFrame, max_points: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """Keep at most `max_points` evenly spaced rows (first and last kept) of a curve."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep].reset_index(drop=True)


def curves(y: np.ndarray, probability: np.ndarray, n_bins: int) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall, calibration and cumulative-gain curves as small tables."""
    fpr, tpr, _ = roc_curve(y, probability)
    precision, recall, _ = precision_recall_curve(y, probability)
    order = np.argsort(-probability, kind="stable")
    gain = pd.DataFrame(
        {
            "share_of_leads": np.arange(len(y) + 1) / len(y),
            "share_of_conversions": np.concatenate([[0.0], np.cumsum(y[order])]) / max(y.sum(), 1),
        }
    )
    return {
        "roc": thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "precision_recall": thin(pd.DataFrame({"recall": recall, "precision": precision})),
        "calibration": calibration_table(y, probability, n_bins),
        "gain": thin(gain),
    }


def evaluate(
    test: pd.DataFrame,
    probability: np.ndarray,
    baseline_probability: np.ndarray,
    truth: pd.Series | None,
    n_bins: int,
    top_share: float,
) -> dict:
    """All test-period metrics: overall, per channel, baseline and (if known) oracle AUC."""
    y = test[fields.CONVERTED].to_numpy(int)
    scored = test.assign(**{PROBABILITY: probability})
    metrics = quality_metrics(y, probability, n_bins, top_share)
    metrics["baseline_roc_auc"] = float(roc_auc_score(y, baseline_probability))
    if truth is not None:
        metrics["oracle_roc_auc"] = float(roc_auc_score(y, truth.to_numpy()))
        metrics["auc_to_oracle"] = metrics["roc_auc"] / metrics["oracle_roc_auc"]
    if fields.CHANNEL in scored:
        metrics["per_channel"] = per_group_metrics(scored, fields.CHANNEL, n_bins, top_share)
    return metrics


def signal_verdict(metrics: dict, min_auc_lower_bound: float) -> dict:
    """Do the data carry a usable signal? The lower end of the AUC interval must clear the gate.

    The interval is the widest of the served model's and its refits' (`roc_auc_gate_low`), so a
    lucky seed cannot pass as skill.
    """
    low = metrics.get("roc_auc_gate_low", metrics.get("roc_auc_ci_low"))
    if low is None:
        return {"usable": False, "reason": "The test period has only one outcome: nothing to rank"}
    if low < min_auc_lower_bound:
        return {
            "usable": False,
            "reason": (
                f"The test AUC is {metrics['roc_auc']:.3f} and its 95 % interval "
                f"reaches down to {low:.3f}, below {min_auc_lower_bound} "
                "(contract.publish_gate.min_auc_lower_bound); the score would barely beat the "
                "base rate, so the model is not publishable"
            ),
        }
    return {
        "usable": True,
        "reason": f"test AUC {metrics['roc_auc']:.3f} (95 % interval from {low:.3f})",
    }


def truth_for(test: pd.DataFrame, truth: pd.DataFrame | None) -> pd.Series | None:
    """The generator's true probabilities for the test leads (`truth`: the generator's truth
    table, None for an export); None when any test lead lacks one."""
    if truth is None:
        return None
    matched = truth.set_index(fields.LEAD_ID)["true_probability"].reindex(test[fields.LEAD_ID])
    return None if matched.isna().any() else matched


# --- spread over seeds, monthly calibration, warnings ----------------------------------------


def spread_summary(values: list[float], method: str, low: float) -> dict:
    """min / max / sd of the test AUC over refits (or bootstrap resamples), and the gate's bound."""
    return {
        "test_auc_spread_method": method,
        "test_auc_spread_n": len(values),
        "test_auc_spread_min": float(np.min(values)),
        "test_auc_spread_max": float(np.max(values)),
        "test_auc_spread_sd": float(np.std(values, ddof=1)),
        "test_auc_spread_values": [round(float(v), 6) for v in values],
        "roc_auc_gate_low": float(low),
    }


def uses_refits(card: ModelCard, settings: EvaluateParams) -> bool:
    """Refit the recipe when the training period is small enough, else bootstrap the test."""
    return (
        card.model_choice is not None
        and card.training_data.rows_train <= settings.stability_max_train_leads
    )


def recipe_spread(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    card: ModelCard,
    params: Params,
    served_low: float,
    served_auc: float,
) -> dict:
    """Test AUC of the served model and of refits of its recipe with other seeds on 90 %
    subsamples of the training period (so the spread always contains the served AUC); the
    gate's bound is the lowest 95 % interval end among them."""
    y = test[fields.CONVERTED].to_numpy(int)
    spec = card.spec
    aucs, lows = [float(served_auc)], []
    for k in range(1, params.evaluate.stability_refits + 1):
        refit = refit_recipe(train, valid, spec, params.train, card, params.train.seed + k)
        probability = refit.predict_proba(test[list(spec.fields)])[:, 1]
        aucs.append(float(roc_auc_score(y, probability)))
        lows.append(roc_auc_interval(y, probability)[0])
    return spread_summary(aucs, "refits", min([served_low, *lows]))


def bootstrap_spread(
    y: np.ndarray, probability: np.ndarray, n: int, seed: int, served_low: float
) -> dict:
    """Test AUC over `n` bootstrap resamples of the test leads (stratified by outcome); the
    gate's bound is their 2.5 % quantile or the served interval's lower end, the lower."""
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)

    def resamples():  # each as its leads' counts: the AUCs are counted on one sort of the scores
        for _ in range(n):
            rows = np.concatenate(
                [rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
            )
            yield np.bincount(rows, minlength=len(y))

    aucs = weighted_aucs(y, probability, resamples())
    low = min(served_low, float(np.quantile(aucs, 0.025)))
    summary = spread_summary(aucs, "bootstrap", low)
    summary["test_auc_spread_values"] = []  # the resamples are summarised, not listed
    return summary


def gate_metrics(
    y: np.ndarray,
    probability: np.ndarray,
    settings: EvaluateParams,
    seed: int,
    evaluated_gate_low: float | None,
) -> dict:
    """The evaluate stage's figures for leads scored again (`leadscore promote`): quality with
    the stage's bins and top share, and the gate's AUC bound (`roc_auc_gate_low`) as the stage
    recorded it for the model (the worst over refits), or, for a model the stage never
    evaluated, a bootstrap of these leads (what the stage does for a large training period)."""
    metrics: dict = quality_metrics(y, probability, settings.calibration_bins, settings.top_share)
    if "roc_auc" not in metrics:
        return metrics
    if evaluated_gate_low is not None:
        return {**metrics, "roc_auc_gate_low": evaluated_gate_low}
    low = metrics["roc_auc_ci_low"]
    spread = bootstrap_spread(y, probability, settings.stability_bootstrap, seed, low)
    return {**metrics, **spread}


def monthly_calibration(test: pd.DataFrame, probability: np.ndarray) -> list[dict]:
    """Per creation month of the test period: leads, conversions, mean predicted and actual."""
    if fields.CREATED_AT in test:
        months = pd.to_datetime(test[fields.CREATED_AT]).dt.to_period("M").astype(str)
    else:
        months = pd.Series("test period", index=test.index)
    frame = pd.DataFrame(
        {"month": months.to_numpy(), "y": test[fields.CONVERTED].to_numpy(int), "p": probability}
    )
    return [
        {
            "month": str(month),
            "leads": int(len(part)),
            "conversions": int(part["y"].sum()),
            "predicted": float(part["p"].mean()),
            "actual": float(part["y"].mean()),
        }
        for month, part in frame.groupby("month", sort=True)
    ]


def model_warnings(
    metrics: dict, valid_metrics: dict, settings: WarningParams, period: str
) -> list[dict]:
    """Baseline, calibration-drift and ECE warnings for the served model (validation and test)."""
    found = health.baseline_beats_model(
        "validation period",
        valid_metrics.get("valid_roc_auc"),
        valid_metrics.get("valid_roc_auc_ci_high", 1.0),
        valid_metrics.get("valid_baseline_roc_auc"),
    )
    if "roc_auc" in metrics:
        found += health.baseline_beats_model(
            period, metrics["roc_auc"], metrics["roc_auc_ci_high"], metrics["baseline_roc_auc"]
        )
    found += health.ece_limit(period, metrics["ece"], settings)
    for month in metrics.get("monthly", []):
        found += health.calibration_drift(
            month["month"], month["leads"], month["conversions"], month["predicted"], settings
        )
    return found
