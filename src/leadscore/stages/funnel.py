"""DVC stage `funnel`: file I/O around leadscore.views.funnel."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.config import load_params
from leadscore.core.data_params import economics_columns
from leadscore.core.io import read_table, write_json, write_text
from leadscore.views.funnel import funnel_report, plan_summary, render_markdown

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    costs_path: Path = Path("data/raw/channel_costs.csv"),
    reports_dir: Path | None = Path("reports"),
    revenue_target: float | None = None,
    response_rate: float | None = None,
) -> dict:
    config = load_params(params_path)
    params = config.funnel
    if revenue_target is not None:
        params = params.model_copy(update={"revenue_target": revenue_target})
    if response_rate is not None:
        params = params.model_copy(update={"response_rate": response_rate})
    costs = read_table(costs_path) if costs_path.is_file() else pd.DataFrame()
    columns = economics_columns(config.data)
    report = funnel_report(pd.read_parquet(scored_path), costs, params, columns)
    if reports_dir is not None:
        write_json(reports_dir / "funnel.json", report)
        write_text(reports_dir / "funnel.md", render_markdown(report))
    for item in report["missing"]:
        log.warning("funnel: %s", item["message"])
    log.info("funnel: %s", plan_summary(report))
    return report
