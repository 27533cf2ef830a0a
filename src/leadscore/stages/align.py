"""DVC stage `align`: file I/O around leadscore.views.align."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.card import ModelCard
from leadscore.core.config import load_params
from leadscore.core.io import write_json, write_text
from leadscore.views.align import align_report, render_markdown
from leadscore.views.format import pct

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    card_path: Path = Path("models/model_card.json"),
    reports_dir: Path = Path("reports"),
) -> dict:
    params = load_params(params_path)
    scored = pd.read_parquet(scored_path)
    candidates = list(ModelCard.read(card_path).spec.fields)
    report = align_report(scored, params.contract, candidates)
    write_json(reports_dir / "align.json", report)
    write_text(reports_dir / "align.md", render_markdown(report))
    for name, row in report["views"].items():
        log.info("align: %s %d leads, conversion %s", name, row["leads"], pct(row["conversion"]))
    return report
