"""DVC stage `headline`: the run's few headline numbers (reports/headline.json, the DVC metric)."""

from __future__ import annotations

import logging
from pathlib import Path

from leadscore.analysis.headline import headline
from leadscore.core.contract_report import ContractReport
from leadscore.core.io import read_json, write_json
from leadscore.core.records import EvaluationMetrics

log = logging.getLogger(__name__)


def main(reports_dir: Path = Path("reports")) -> dict:
    figures = headline(
        EvaluationMetrics.read(reports_dir / "metrics.json").to_record(),
        ContractReport.read(reports_dir / "contract.json").to_json(),
        read_json(reports_dir / "follow_up.json"),
    )
    write_json(reports_dir / "headline.json", figures)
    log.info(
        "headline: test AUC %s (lower bound %s), A conversion %s, publishable %s",
        figures["auc"],
        figures["auc_lo"],
        figures["a_conv"],
        "yes" if figures["pub"] else "no",
    )
    return figures
