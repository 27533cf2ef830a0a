"""DVC stage `importance`: file I/O around leadscore.analysis.importance."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.analysis.figures import save_png, segment_figure
from leadscore.analysis.importance import (
    TOP_DEPENDENCE,
    compute,
    dependence_figure,
    importance_figure,
)
from leadscore.core.config import load_params
from leadscore.core.io import write_csv, write_json
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import load_bundle
from leadscore.scoring.scorer import Scorer

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    model_dir: Path = Path("models"),
    reports_dir: Path = Path("reports"),
) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = load_params(params_path)
    bundle = load_bundle(model_dir)
    scorer = Scorer.from_bundle(bundle)
    test = pd.read_parquet(data_dir / "test_scored.parquet")
    result = compute(scorer, test, params.importance)
    table, segments = result["table"], result["segments"]
    write_csv(table.round(6), reports_dir / "importance.csv", index=False)
    write_csv(segments.round(6), reports_dir / "segments.csv", index=False)
    summary = {
        k: v for k, v in result["summary"].items() if k != "seconds"
    }  # DVC metrics: no timings
    write_json(reports_dir / "importance.json", summary)

    figures_dir = reports_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = {"importance.png": importance_figure(table), "segments.png": segment_figure(segments)}
    sample = test.iloc[result["shap_rows"]]
    for name in table["field"].head(TOP_DEPENDENCE):
        j = scorer.fields.index(name)
        figures[f"dependence_{name}.png"] = dependence_figure(
            name, sample[name], result["contributions"][:, j], name in scorer.spec.categorical
        )
    for file_name, figure in figures.items():
        save_png(figure, figures_dir / file_name)
    log_to_training_run(bundle.card, "log_importance", table, segments, figures)
    for figure in figures.values():
        plt.close(figure)
    log.info(
        "importance: top fields %s (%d leads, %d repeats, %.1f s)",
        ", ".join(result["summary"]["top_fields"]),
        result["summary"]["permutation_rows"],
        params.importance.repeats,
        result["summary"]["seconds"],
    )
    return result["summary"]
