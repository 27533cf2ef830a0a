"""DVC stage `credit`: file I/O around leadscore.views.credit."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.config import load_params
from leadscore.core.contract_report import ContractReport
from leadscore.core.data_params import economics_columns, follow_up_columns
from leadscore.core.io import read_table, write_csv, write_json, write_text
from leadscore.views.credit import credit_report, render_markdown

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    costs_path: Path = Path("data/raw/channel_costs.csv"),
    contract_path: Path = Path("reports/contract.json"),
    reports_dir: Path = Path("reports"),
) -> dict:
    params = load_params(params_path)
    costs = read_table(costs_path) if costs_path.is_file() else pd.DataFrame()
    report, table = credit_report(
        pd.read_parquet(scored_path),
        costs,
        ContractReport.read(contract_path).to_json(),
        economics_columns(params.data),
        follow_up_columns(params.data),
    )
    write_json(reports_dir / "credit.json", report)
    write_csv(table, reports_dir / "credit.csv", index=False)
    write_text(reports_dir / "credit.md", render_markdown(report, table))
    for item in report["missing"]:
        log.warning("credit: %s", item["message"])
    totals = report["totals"]
    log.info(
        "credit: %d A leads delivered, %s worked, %d won; reconciles with the contract: %s",
        totals["a_leads"],
        "-" if totals["a_worked"] is None else f"{totals['a_worked']:.0f}",
        totals["a_won"],
        report["reconciliation"]["reconciled"],
    )
    if not report["reconciliation"]["reconciled"]:
        raise ValueError(
            f"credit does not reconcile with the contract view: {report['reconciliation']}"
        )
    return report
