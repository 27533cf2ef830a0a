"""DVC stage `contract`: file I/O around leadscore.views.contract."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.core.io import read_json, write_json, write_text
from leadscore.mlops.runs import log_to_training_run
from leadscore.views.contract import contract_report, render_markdown
from leadscore.views.format import pct

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    grading_path: Path = Path("models/grading.json"),
    metrics_path: Path = Path("reports/metrics.json"),
    reports_dir: Path = Path("reports"),
    card_path: Path = Path("models/model_card.json"),
) -> dict:
    params = load_params(params_path)
    scored = pd.read_parquet(scored_path)
    months = None
    if fields.CREATED_AT not in scored:
        months = params.data.export_months * params.split.test_share
    report = contract_report(
        scored, params.contract, read_json(grading_path), read_json(metrics_path), months
    )
    write_json(reports_dir / "contract.json", report)
    write_text(reports_dir / "contract.md", render_markdown(report))
    card = read_json(card_path) if card_path.is_file() else None
    log_to_training_run(card, "tag_publish_gate", report["publish_gate"])
    a = report["grades"]["A"]
    log.info(
        "contract: A converted %s (promise %.0f%%), %.0f A leads/month; publishable: %s",
        pct(a["conversion"]),
        100 * params.contract.grades.A.min_conversion,
        a["leads_per_month"],
        report["publish_gate"]["publishable"],
    )
    return report
