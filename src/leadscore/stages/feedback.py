"""DVC stage `feedback`: file I/O around leadscore.views.feedback."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.card import ModelCard
from leadscore.core.config import Params, load_params
from leadscore.core.data_params import economics_columns, follow_up_columns
from leadscore.core.io import read_json, read_table, write_json, write_text
from leadscore.core.records import GradingRecord
from leadscore.scoring.log_reader import (
    journal_backlog,
    read_nurture_view,
    read_scores_and_events,
    read_scoring_log,
)
from leadscore.scoring.nurture import DEFAULT_DAYS, period
from leadscore.views.feedback import (
    join_scoring_log,
    live_outcomes,
    monthly_feedback,
    outcome_checks,
    outcome_lines,
    outcomes_from_file,
    render_markdown,
)
from leadscore.views.nurture import nurture_report
from leadscore.views.nurture import render_markdown as render_nurture

log = logging.getLogger(__name__)


def grade_bindings(grading_path: Path) -> dict | None:
    """Which rule set each grade's threshold (from the bundle's grading), when there is one."""
    if not grading_path.is_file():
        return None
    derived = GradingRecord.read(grading_path).derivation.grades
    return {grade: row.binding for grade, row in derived.items()}


def watched_fields(params: Params, card_path: Path) -> list[str]:
    """The fields whose drift the report watches: the channel and the model's inputs."""
    channel = economics_columns(params.data).channel
    watched = [channel] if channel else []
    if card_path.is_file():
        watched += list(ModelCard.read(card_path).spec.fields)
    return watched


def scored_with_outcomes(
    scoring_log: str, outcomes_path: Path | None, window_days: int
) -> tuple[pd.DataFrame, int, dict | None]:
    """The scoring log joined to its outcomes (the CRM events stored beside the scores, or an
    outcomes file), the scored leads without one, and the stored events' checks."""
    if outcomes_path is None:  # the CRM events stored beside the scores
        log_rows, events = read_scores_and_events(scoring_log)
        live = live_outcomes(log_rows, events, window_days)
        return live.scored, live.without, outcome_checks(live)
    outcomes = outcomes_from_file(read_table(outcomes_path), window_days)
    scored, without = join_scoring_log(read_scoring_log(scoring_log), outcomes)
    return scored, without, None


def log_live_gaps(unshipped: int, without: int, checks: dict | None) -> None:
    """Warn of scored leads not yet replayed, leads without an outcome, and the outcome checks."""
    if unshipped:
        log.warning(
            "feedback: %d scored leads are still only in the scoring journal, not in the "
            "table this report reads; run `leadscore scoring-log replay` first",
            unshipped,
        )
    if without:
        log.warning("feedback: %d scored leads have no outcome row yet", without)
    for line in outcome_lines(checks):
        log.warning("feedback: %s", line)


def write_nurture(scoring_log: str, reports_dir: Path, as_of: str | None, days: int) -> None:
    """reports/nurture.{json,md}: the leads that crossed into or out of A in the last `days`
    days up to `as_of` (default: now), and the events that moved them (the report shows it)."""
    until = pd.Timestamp(as_of) if as_of else pd.Timestamp.now(tz="UTC")
    found = read_nurture_view(scoring_log, until, days)
    since, end = period(until.to_pydatetime(), days)
    report = nurture_report(found, days, since, end)
    write_json(reports_dir / "nurture.json", report)
    write_text(reports_dir / "nurture.md", render_nurture(report))
    log.info("nurture: %d into A, %d out of A", report["into_a"], report["out_of_a"])


def main(
    params_path: Path = Path("params.yaml"),
    scored_path: Path = Path("data/processed/test_scored.parquet"),
    reference_path: Path = Path("data/processed/valid.parquet"),
    split_path: Path = Path("reports/split.json"),
    card_path: Path = Path("models/model_card.json"),
    reports_dir: Path = Path("reports"),
    grading_path: Path = Path("models/grading.json"),
    scoring_log: str | None = None,
    outcomes_path: Path | None = None,
    as_of: str | None = None,
    journal_dir: Path | None = None,
    nurture_days: int = DEFAULT_DAYS,
) -> dict:
    params = load_params(params_path)
    contract = params.contract
    bindings = grade_bindings(grading_path)
    reference = pd.read_parquet(reference_path) if reference_path.is_file() else None
    watched = watched_fields(params, card_path)
    if scoring_log:
        scored, without, checks = scored_with_outcomes(
            scoring_log, outcomes_path, contract.outcome.window_days
        )
        unshipped = journal_backlog(scoring_log, journal_dir)
        log_live_gaps(unshipped, without, checks)
        stamp = pd.Timestamp(as_of) if as_of else pd.Timestamp.now().normalize()
        # the outcomes file names the first contact `first_contact_at`, as the built-in CRM does
        report = monthly_feedback(
            scored, contract, stamp, reference, watched, "scoring log", params.warnings, bindings
        )
        report["scored_leads_without_outcome"] = without
        report["scored_leads_not_replayed"] = unshipped
        if checks is not None:
            report["outcomes"] = checks
        write_nurture(scoring_log, reports_dir, as_of, nurture_days)
    else:
        scored = pd.read_parquet(scored_path)
        split = read_json(split_path) if split_path.is_file() else {}
        stamp = as_of or split.get("as_of")  # a split without dates has no as-of date
        stamp = pd.Timestamp(stamp) if stamp else None
        report = monthly_feedback(
            scored,
            contract,
            stamp,
            reference,
            watched,
            settings=params.warnings,
            bindings=bindings,
            follow_up=follow_up_columns(params.data),
        )
    write_json(reports_dir / "feedback.json", report)
    write_text(reports_dir / "feedback.md", render_markdown(report))
    for item in report["missing"]:
        log.warning("feedback: %s", item["message"])
    log.info(
        "feedback: %d closed months, %d flagged", len(report["months"]), report["flagged_months"]
    )
    return report
