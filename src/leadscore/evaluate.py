"""Evaluate stage: quality, calibration and ranking of the model on the newest (test) leads.

Writes `reports/metrics.json` (DVC metrics), `data/processed/test_scored.parquet` (test leads
with probability, score and grade, for the contract, align and feedback views) and the ROC,
precision-recall, calibration and cumulative-gain curves as CSV files under `reports/plots/`
(DVC plots).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

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

from leadscore import fields
from leadscore.bundle import load_baseline, load_bundle
from leadscore.config import load_params
from leadscore.features import FeatureSpec
from leadscore.io import write_json
from leadscore.scoring import score_leads

log = logging.getLogger(__name__)

PROBABILITY = "probability"
MAX_CURVE_POINTS = 200


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


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, n_bins: int = 10) -> float:
    """Lead-weighted mean |predicted - observed| over equal-frequency bins."""
    table = calibration_table(y, probability, n_bins)
    weights = table["leads"] / table["leads"].sum()
    return float((weights * (table["predicted"] - table["observed"]).abs()).sum())


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


def roc_auc_interval(
    y: np.ndarray, probability: np.ndarray, z: float = 1.96
) -> tuple[float, float]:
    """95 % interval of the ROC AUC (Hanley & McNeil standard error), clipped to [0, 1]."""
    auc = roc_auc_score(y, probability)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    half = z * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def quality_metrics(
    y: np.ndarray, probability: np.ndarray, n_bins: int, top_share: float
) -> dict[str, float]:
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
    """Do the data carry a usable signal? The lower end of the AUC interval must clear the gate."""
    low = metrics.get("roc_auc_ci_low")
    if low is None:
        return {"usable": False, "reason": "the test period has only one outcome: nothing to rank"}
    if low < min_auc_lower_bound:
        return {
            "usable": False,
            "reason": (
                f"no usable signal: the test AUC is {metrics['roc_auc']:.3f} and its 95 % interval "
                f"reaches down to {low:.3f}, below {min_auc_lower_bound} "
                "(contract.publish_gate.min_auc_lower_bound); the score would barely beat the "
                "base rate, so the model is not publishable"
            ),
        }
    return {
        "usable": True,
        "reason": f"test AUC {metrics['roc_auc']:.3f} (95 % interval from {low:.3f})",
    }


def truth_for(test: pd.DataFrame, truth_path: Path) -> pd.Series | None:
    """The generator's true probabilities for the test leads, when the data are generated."""
    if not truth_path.is_file():
        return None
    truth = pd.read_parquet(truth_path).set_index(fields.LEAD_ID)["true_probability"]
    matched = truth.reindex(test[fields.LEAD_ID])
    return None if matched.isna().any() else matched


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    model_dir: Path = Path("models"),
    truth_path: Path = Path("data/raw/truth.parquet"),
    reports_dir: Path = Path("reports"),
) -> dict:
    params = load_params(params_path)
    bundle = load_bundle(model_dir)
    baseline = load_baseline(model_dir)
    test = pd.read_parquet(data_dir / "test.parquet")
    inputs = test[list(FeatureSpec.from_dict(bundle.card["features"]).fields)]
    scored = score_leads(bundle, test)
    probability = scored[PROBABILITY].to_numpy()
    metrics = evaluate(
        test,
        probability,
        baseline.predict_proba(inputs)[:, 1],
        truth_for(test, truth_path),
        params.evaluate.calibration_bins,
        params.evaluate.top_share,
    )
    metrics["model_version"] = bundle.version
    metrics["signal"] = signal_verdict(metrics, params.contract.publish_gate.min_auc_lower_bound)
    if not metrics["signal"]["usable"]:
        log.warning("evaluate: %s", metrics["signal"]["reason"])
    write_json(reports_dir / "metrics.json", metrics)
    plot_dir = reports_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    y = test[fields.CONVERTED].to_numpy(int)
    plot_files = []
    for name, table in curves(y, probability, params.evaluate.calibration_bins).items():
        path = plot_dir / f"{name}.csv"
        table.round(6).to_csv(path, index=False)
        plot_files.append(path)
    test.assign(
        **{column: scored[column].to_numpy() for column in (PROBABILITY, "score", "grade")}
    ).to_parquet(data_dir / "test_scored.parquet")
    run = bundle.card.get("mlflow") or {}
    if run.get("run_id"):
        from leadscore import tracking

        flat = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
        tracking.log_evaluation(run["run_id"], flat, plot_files)
    log.info("evaluate: test AUC %.4f, ECE %.4f", metrics["roc_auc"], metrics["ece"])
    return metrics
