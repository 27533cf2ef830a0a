"""DVC stage `report`: file I/O around leadscore.views.report."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.card import ModelCard
from leadscore.core.contract_report import ContractReport
from leadscore.core.io import read_json, write_text
from leadscore.views.report import render_report

log = logging.getLogger(__name__)


def main(
    reports_dir: Path = Path("reports"), card_path: Path = Path("models/model_card.json")
) -> Path:
    importance_path = reports_dir / "importance.csv"
    optional = {
        name: read_json(reports_dir / f"{name}.json")
        for name in ("follow_up", "credit", "proposal", "nurture")
        if (reports_dir / f"{name}.json").is_file()
    }
    html = render_report(
        ContractReport.read(reports_dir / "contract.json").to_json(),
        read_json(reports_dir / "align.json"),
        read_json(reports_dir / "funnel.json"),
        read_json(reports_dir / "feedback.json"),
        ModelCard.read(card_path).model_version,
        pd.read_csv(importance_path) if importance_path.is_file() else None,
        **optional,
    )
    path = reports_dir / "report.html"
    write_text(path, html)
    log.info("report: %s (%d kB)", path, len(html) // 1024)
    return path
