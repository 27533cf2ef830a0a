"""DVC stage `follow_up`: file I/O around leadscore.views.follow_up."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.config import load_params
from leadscore.core.data_params import economics_columns, follow_up_columns
from leadscore.core.io import write_json, write_text
from leadscore.views.follow_up import broken_promises, follow_up_report, render_markdown

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    reports_dir: Path = Path("reports"),
    scoring_log: str | None = None,
) -> dict:
    params = load_params(params_path)
    if scoring_log:  # live: the scores and the CRM events stored beside them
        from leadscore.scoring.log_reader import read_scores_and_events
        from leadscore.views.feedback import live_outcomes

        log_rows, events = read_scores_and_events(scoring_log)
        live = live_outcomes(log_rows, events, params.contract.outcome.window_days)
        if live.without:
            log.warning("follow-up: %d scored leads have no CRM event yet", live.without)
        report = follow_up_report(live.scored, params.contract)  # the events' own column names
    else:
        report = follow_up_report(
            pd.read_parquet(scored_path),
            params.contract,
            follow_up_columns(params.data),
            economics_columns(params.data),
        )
    write_json(reports_dir / "follow_up.json", report)
    write_text(reports_dir / "follow_up.md", render_markdown(report))
    for item in report["missing"]:
        log.warning("follow-up: %s", item["message"])
    cost = report.get("a_cost")
    if cost and cost["deals_lost"] is not None:
        log.info(
            "follow-up: %d A leads worked late or never; about %.1f deals lost",
            cost["slow_leads"],
            cost["deals_lost"],
        )
    broken = broken_promises(report)
    log.info("follow-up: promises not kept: %s", ", ".join(broken) if broken else "none")
    return report
