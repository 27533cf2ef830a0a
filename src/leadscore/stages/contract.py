"""DVC stage `contract`: file I/O around leadscore.views.contract and leadscore.model.gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadscore.core.card import ModelCard
from leadscore.core.config import Params, load_params
from leadscore.core.io import read_json, write_text
from leadscore.core.records import EvaluationMetrics, GradingRecord
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import read_card
from leadscore.model.gate import REVIEW_CHECK, model_review, undated_months
from leadscore.views.contract import contract_report, worked_leads
from leadscore.views.contract_markdown import render_markdown
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
    card = read_card(card_path) if card_path.is_file() else None  # with its MLflow run
    context = test_context(params, scored, reports_dir, card)
    report = contract_report(
        scored,
        params.contract,
        GradingRecord.read(grading_path).to_record(),
        EvaluationMetrics.read(metrics_path).to_record(),
        context.months,
        context.review,
        params.warnings,
        worked=context.worked,
    )
    report.write(reports_dir / "contract.json")
    write_text(reports_dir / "contract.md", render_markdown(report))
    log_to_training_run(card, "log_publish_gate", report.publish_gate)
    a = report.grades["A"]
    log.info(
        "contract: A converted %s (promise %.0f%%), %.0f A leads/month; publishable: %s",
        pct(a["conversion"]),
        100 * params.contract.grades.A.min_conversion,
        a["leads_per_month"],
        report.publish_gate.publishable,
    )
    review = report.publish_gate.checks.get(REVIEW_CHECK)
    if review is not None and review.actual:
        log.warning(
            "contract: inputs under leakage review without sign-off: %s (contract.allowed_fields"
            " or contract.excluded_fields)",
            ", ".join(review.actual),
        )
    return report.to_json()


@dataclass(frozen=True)
class TestContext:
    """What the contract report needs besides the graded leads: the test period's length (for
    an undated export), the leakage review, and which leads sales worked (when recorded)."""

    months: float | None
    review: dict | None
    worked: pd.Series | None


def test_context(
    params: Params, scored: pd.DataFrame, reports_dir: Path, card: ModelCard | None
) -> TestContext:
    return TestContext(
        months=undated_months(params, scored),
        review=field_review(params, reports_dir, card),
        worked=worked_leads(scored, params.data),
    )


def field_review(params: Params, reports_dir: Path, card: ModelCard | None) -> dict | None:
    """The ingest stage's leakage review completed with the model's permutation importance."""
    evidence_path, importance_path = reports_dir / "leakage.json", reports_dir / "importance.csv"
    if not evidence_path.is_file() or card is None:
        log.warning("contract: no leakage review (%s) to check the inputs against", evidence_path)
        return None
    drops = None
    if importance_path.is_file():
        table = pd.read_csv(importance_path)
        drops = dict(zip(table["field"], table["permutation_auc_mean"], strict=True))
    return model_review(read_json(evidence_path)["fields"], drops, card.spec.fields, params)
