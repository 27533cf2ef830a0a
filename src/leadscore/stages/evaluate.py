"""DVC stage `evaluate`: file I/O around leadscore.analysis.evaluate."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.analysis.evaluate import (
    PROBABILITY,
    bootstrap_spread,
    curves,
    evaluate,
    model_warnings,
    monthly_calibration,
    recipe_spread,
    signal_verdict,
    truth_for,
    uses_refits,
)
from leadscore.analysis.figures import curve_figure, save_png
from leadscore.analysis.snapshots import by_snapshot_day, has_snapshots
from leadscore.core import fields
from leadscore.core.card import ModelCard
from leadscore.core.config import load_params
from leadscore.core.io import write_csv, write_json, write_parquet
from leadscore.core.records import EvaluationMetrics
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import ModelBundle, load_baseline, load_bundle
from leadscore.scoring.scorer import score_leads

log = logging.getLogger(__name__)


def period_label(test: pd.DataFrame) -> str:
    if fields.CREATED_AT not in test:
        return "test period"
    created = pd.to_datetime(test[fields.CREATED_AT])
    return f"test period {created.min().date()} to {created.max().date()}"


def auc_spread(
    params, card: ModelCard, data_dir: Path, test: pd.DataFrame, probability, metrics: dict
) -> dict:
    """Spread of the test AUC: refits of the chosen recipe, or a bootstrap over test leads."""
    if "roc_auc" not in metrics:
        return {}
    low = metrics["roc_auc_ci_low"]
    if uses_refits(card, params.evaluate):
        train = pd.read_parquet(data_dir / "train.parquet")
        valid = pd.read_parquet(data_dir / "valid.parquet")
        return recipe_spread(train, valid, test, card, params, low, metrics["roc_auc"])
    y = test[fields.CONVERTED].to_numpy(int)
    n, seed = params.evaluate.stability_bootstrap, params.train.seed
    return bootstrap_spread(y, probability, n, seed, low)


def model_facts(bundle: ModelBundle) -> dict:
    """The model's version, family and calibration method, for the metrics."""
    calibration = bundle.card.calibration
    facts: dict = {
        "model_version": bundle.version,
        "model_family": bundle.card.model_family,
        "calibration_method": None if calibration is None else calibration.method,
    }
    if calibration is not None and calibration.backwards:
        facts["calibration_backwards"] = True
    return facts


def write_plots(y: np.ndarray, probability: np.ndarray, bins: int, reports_dir: Path) -> list[Path]:
    """The curves as CSV (DVC plots) and PNG (what `dvc plots show` displays, offline)."""
    plot_dir = reports_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_files = []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, table in curves(y, probability, bins).items():
        path = plot_dir / f"{name}.csv"
        write_csv(table.round(6), path, index=False)
        figure = curve_figure(name, table)
        save_png(figure, path.with_suffix(".png"))
        plt.close(figure)
        plot_files += [path, path.with_suffix(".png")]
    return plot_files


def log_snapshot_days(metrics: dict) -> None:
    """One log line per snapshot day (activity events)."""
    for row in metrics.get("by_snapshot_day", ()):
        log.info(
            "evaluate: snapshot day %d: %d leads, AUC %s, oracle %s",
            row["snapshot_day"],
            row["leads"],
            f"{row['roc_auc']:.4f}" if "roc_auc" in row else "n/a",
            f"{row['oracle_roc_auc']:.4f}" if "oracle_roc_auc" in row else "n/a",
        )


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
    inputs = test[list(bundle.card.spec.fields)]
    scored = score_leads(bundle, test)
    probability = scored[PROBABILITY].to_numpy()
    truth = truth_for(test, pd.read_parquet(truth_path) if truth_path.is_file() else None)
    metrics = evaluate(
        test,
        probability,
        baseline.predict_proba(inputs)[:, 1],
        truth,
        params.evaluate.calibration_bins,
        params.evaluate.top_share,
    )
    if has_snapshots(test):  # activity events: each lead scored at several moments
        metrics["by_snapshot_day"] = by_snapshot_day(test, probability, truth)
    metrics |= model_facts(bundle)
    metrics.update(auc_spread(params, bundle.card, data_dir, test, probability, metrics))
    metrics["monthly"] = monthly_calibration(test, probability)
    metrics["warnings"] = model_warnings(
        metrics, bundle.card.metrics.figures(), params.warnings, period_label(test)
    )
    for item in metrics["warnings"]:
        log.warning("evaluate: %s", item["message"])
    metrics["signal"] = signal_verdict(metrics, params.contract.publish_gate.min_auc_lower_bound)
    if not metrics["signal"]["usable"]:
        log.warning("evaluate: no usable signal: %s", metrics["signal"]["reason"])
    write_json(reports_dir / "metrics.json", EvaluationMetrics.from_record(metrics).to_record())
    y = test[fields.CONVERTED].to_numpy(int)
    plot_files = write_plots(y, probability, params.evaluate.calibration_bins, reports_dir)
    write_parquet(
        test.assign(
            **{column: scored[column].to_numpy() for column in (PROBABILITY, "score", "grade")}
        ),
        data_dir / "test_scored.parquet",
    )
    flat = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    test_digest = hashlib.md5((data_dir / "test.parquet").read_bytes()).hexdigest()
    datasets = {"test": (test, test_digest)}
    log_to_training_run(bundle.card, "log_evaluation", flat, plot_files, datasets)
    log.info("evaluate: test AUC %.4f, ECE %.4f", metrics["roc_auc"], metrics["ece"])
    log_snapshot_days(metrics)
    return metrics
