"""DVC stage `contract`: file I/O around leadscore.views.contract."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.card import ModelCard
from leadscore.core.config import Params, follow_up_columns, load_params
from leadscore.core.io import read_json, write_json, write_text
from leadscore.core.records import EvaluationMetrics, GradingRecord
from leadscore.data.leakage import importance_shares, with_importance
from leadscore.mlops.runs import log_to_training_run
from leadscore.model.bundle import read_card
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
    write_json(reports_dir / "contract.json", report)
    write_text(reports_dir / "contract.md", render_markdown(report))
    log_to_training_run(card, "tag_publish_gate", report["publish_gate"])
    a = report["grades"]["A"]
    log.info(
        "contract: A converted %s (promise %.0f%%), %.0f A leads/month; publishable: %s",
        pct(a["conversion"]),
        100 * params.contract.grades.A.min_conversion,
        a["leads_per_month"],
        report["publish_gate"]["publishable"],
    )
    waiting = report["publish_gate"]["checks"].get("fields_under_review", {}).get("actual")
    if waiting:
        log.warning(
            "contract: inputs under leakage review without sign-off: %s (contract.allowed_fields"
            " or contract.excluded_fields)",
            ", ".join(waiting),
        )
    return report


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
    first_contact = follow_up_columns(params.data).first_contact
    return TestContext(
        months=None
        if fields.CREATED_AT in scored
        else params.data.export_months * params.split.test_share,
        review=field_review(params, reports_dir, card),
        worked=scored[first_contact].notna() if first_contact in scored else None,
    )


def field_review(params, reports_dir: Path, card: ModelCard | None) -> dict | None:
    """The ingest stage's leakage review completed with the model's permutation importance."""
    evidence_path, importance_path = reports_dir / "leakage.json", reports_dir / "importance.csv"
    if not evidence_path.is_file() or card is None:
        log.warning("contract: no leakage review (%s) to check the inputs against", evidence_path)
        return None
    shares = None
    if importance_path.is_file():
        table = pd.read_csv(importance_path)
        drops = dict(zip(table["field"], table["permutation_auc_mean"], strict=True))
        shares = importance_shares(drops)
    leakage = params.data.leakage
    fields_ = with_importance(
        read_json(evidence_path)["fields"],
        shares,
        card.spec.fields,
        params.contract.allowed,
        leakage.max_importance_share,
    )
    return {"thresholds": leakage.model_dump(), "fields": fields_}
