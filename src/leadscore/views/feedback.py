"""Monthly lead-quality feedback: how each grade really converted, month by month.

For every month of scored leads whose outcome window has closed, conversion by grade beside the
contract's promise. A month is flagged (`leadscore.model.health`, thresholds in params
`warnings`) when any grade fell below its promise or converted far above it (a stale bar),
when the grades came out of order, or when the mean predicted probability left the band around
the actual conversion; the likely cause (a shift in the channel mix or in a field's
distribution) is named when one is visible. Works from
the test period (the `feedback` stage) and from the service's scoring log joined with an
outcomes file (`leadscore feedback --scoring-log ... --outcomes ...`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.core import fields, outcome
from leadscore.core.config import WarningParams
from leadscore.core.contract import Contract
from leadscore.core.data_params import GENERATOR_FOLLOW_UP, FollowUpColumns
from leadscore.core.outcome import window_open, won_within_window
from leadscore.core.stats import conversion_figures
from leadscore.model import health
from leadscore.model.grading import GRADES
from leadscore.views.follow_up import attribute_miss
from leadscore.views.format import pct
from leadscore.views.needs import need

log = logging.getLogger(__name__)

MIN_LEADS_TO_JUDGE = 30
DRIFT_PSI = 0.10  # population stability index above which a shift is called visible
PSI_BINS = 10


def closed_months(created_at: pd.Series, as_of: pd.Timestamp, window_days: int) -> pd.Series:
    """True for leads created in a month whose last lead's outcome window closed by `as_of`."""
    month_end = created_at.dt.to_period("M").dt.end_time.dt.normalize()
    return ~window_open(month_end, as_of, window_days)


def final_outcomes(scored: pd.DataFrame) -> pd.Series:
    """Leads whose outcome can no longer change: a won or lost status (a CRM's lost is final).
    Without a status column none is final before its window closes (a lead not won yet may
    still convert, and a month of wins alone would be a biased sample)."""
    if fields.OUTCOME_STATUS not in scored:
        return np.zeros(len(scored), dtype=bool)
    return scored[fields.OUTCOME_STATUS].isin([outcome.WON, outcome.LOST]).to_numpy(bool)


def decided_months(
    created_at: pd.Series, as_of: pd.Timestamp, window_days: int, final: np.ndarray
) -> pd.Series:
    """True for leads of a month that counts: its outcome window has closed, or every one of its
    leads already has a final outcome (won or lost), which no window can change."""
    month = created_at.dt.to_period("M")
    every_final = pd.Series(final, index=created_at.index).groupby(month).transform("all")
    return closed_months(created_at, as_of, window_days) | every_final.astype(bool)


def psi(reference: pd.Series, current: pd.Series) -> float:
    """Population stability index of a field between a reference and a current period."""
    reference, current = reference.dropna(), current.dropna()
    if reference.empty or current.empty:
        return 0.0
    if pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_bool_dtype(reference):
        edges = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        ref_groups = np.searchsorted(edges, reference.to_numpy(), side="right")
        cur_groups = np.searchsorted(edges, current.to_numpy(), side="right")
        ref_share = pd.Series(ref_groups).value_counts(normalize=True)
        cur_share = pd.Series(cur_groups).value_counts(normalize=True)
    else:
        ref_share = reference.astype(str).value_counts(normalize=True)
        cur_share = current.astype(str).value_counts(normalize=True)
    index = ref_share.index.union(cur_share.index)
    ref = ref_share.reindex(index, fill_value=0).to_numpy() + 1e-4
    cur = cur_share.reindex(index, fill_value=0).to_numpy() + 1e-4
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def likely_cause(month: pd.DataFrame, reference: pd.DataFrame | None, watched: list[str]) -> str:
    """The biggest visible shift from the reference period, or a plain 'none visible'."""
    if reference is None or reference.empty:
        return "cannot tell: no reference leads with fields to compare"
    shifts = {
        field: psi(reference[field], month[field])
        for field in watched
        if field in month.columns and field in reference.columns
    }
    if not shifts:
        return "cannot tell: the scored leads carry no fields to compare"
    field, value = max(shifts.items(), key=lambda item: item[1])
    if value < DRIFT_PSI:
        return f"no visible drift in the channel mix or the fields (largest PSI {value:.2f})"
    what = "the channel mix" if field == fields.CHANNEL else f"the distribution of {field}"
    return f"drift in {what} (PSI {value:.2f} against the reference period)"


def month_warnings(
    month: str,
    leads: pd.DataFrame,
    grades: dict,
    contract: Contract,
    settings: WarningParams,
    bindings: dict[str, str] | None,
) -> list[dict]:
    """Every grade against its promise, the grades' order and the month's calibration."""
    counts = {grade: (row["leads"], row["conversions"]) for grade, row in grades.items()}
    found = health.promise_checks(month, counts, contract.grades, settings, bindings)
    found += health.grades_out_of_order(month, counts, settings)
    if "probability" in leads:
        conversions = int(leads[fields.CONVERTED].sum())
        predicted = float(leads["probability"].mean())
        found += health.calibration_drift(month, len(leads), conversions, predicted, settings)
    return found


def month_row(
    month: str,
    leads: pd.DataFrame,
    contract: Contract,
    reference,
    watched: list[str],
    settings: WarningParams | None = None,
    bindings: dict[str, str] | None = None,
    follow_up: FollowUpColumns = GENERATOR_FOLLOW_UP,
) -> dict:
    grades = {}
    for grade in GRADES:
        part = leads[leads["grade"] == grade]
        n, k = int(len(part)), int(part[fields.CONVERTED].sum())
        promise = getattr(contract.grades, grade, None)
        minimum = None if promise is None else promise.min_conversion
        judged = minimum is not None and n >= MIN_LEADS_TO_JUDGE
        grades[grade] = {
            **conversion_figures(k, n),
            "promise": minimum,
            "below_promise": bool(minimum is not None and judged and k / n < minimum),
            "judged": bool(judged),
        }
    settings = settings or WarningParams(min_leads=MIN_LEADS_TO_JUDGE)
    warnings = month_warnings(month, leads, grades, contract, settings, bindings)
    flagged = bool(warnings)
    a_miss = None  # lead quality or follow-up, where the data show it
    if grades["A"]["below_promise"]:
        a_leads = leads[leads["grade"] == "A"]
        a_miss = attribute_miss(a_leads, contract, follow_up, grades["A"]["promise"])
    return {
        "month": month,
        "leads": int(len(leads)),
        "predicted": float(leads["probability"].mean()) if "probability" in leads else None,
        "conversion": float(leads[fields.CONVERTED].mean()) if len(leads) else None,
        "grades": grades,
        "flagged": flagged,
        "warnings": warnings,
        "likely_cause": likely_cause(leads, reference, watched) if flagged else None,
        "a_miss": a_miss,
    }


def undated_feedback(contract: Contract, source: str) -> dict:
    """The feedback of leads without creation dates: no months, and what would give them."""
    return {
        "source": source,
        "as_of": None,
        "window_days": contract.outcome.window_days,
        "months_open": 0,
        "leads_in_open_months": 0,
        "months": [],
        "flagged_months": 0,
        "missing": [need("Monthly feedback", "dates")],
    }


def monthly_feedback(
    scored: pd.DataFrame,
    contract: Contract,
    as_of: pd.Timestamp | None,
    reference: pd.DataFrame | None = None,
    watched: list[str] | None = None,
    source: str = "test period",
    settings: WarningParams | None = None,
    bindings: dict[str, str] | None = None,
    follow_up: FollowUpColumns = GENERATOR_FOLLOW_UP,
) -> dict:
    """Conversion by grade per closed month vs the promises; flags and likely causes (for A:
    lead quality or follow-up, when the leads carry first-contact dates).

    `as_of`: the day outcomes are known up to (None: the day after the newest lead). Leads
    without creation dates have no months: the report says what it needs instead.
    `bindings`: what set each grade's threshold (the grading's derivation); a grade set by
    capacity converts above its promise by design and is not called stale.
    """
    if fields.CREATED_AT not in scored or scored[fields.CREATED_AT].isna().all():
        return undated_feedback(contract, source)
    created = pd.to_datetime(scored[fields.CREATED_AT])
    if as_of is None:
        as_of = created.max().normalize() + pd.Timedelta(days=1)
    closed = decided_months(created, as_of, contract.outcome.window_days, final_outcomes(scored))
    leads = scored[closed].assign(_month=created[closed].dt.to_period("M").astype(str))
    watched = watched or [fields.CHANNEL]
    months = [
        month_row(month, part, contract, reference, watched, settings, bindings, follow_up)
        for month, part in leads.groupby("_month", sort=True)
    ]
    return {
        "source": source,
        "as_of": str(as_of.date()),
        "window_days": contract.outcome.window_days,
        "months_open": int(created[~closed].dt.to_period("M").nunique()),
        "leads_in_open_months": int((~closed).sum()),
        "months": months,
        "flagged_months": sum(m["flagged"] for m in months),
        "missing": [],
    }


def outcomes_from_file(outcomes: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """lead_id, created_at and converted from an outcomes table (converted or won_at)."""
    missing = {fields.LEAD_ID, fields.CREATED_AT} - set(outcomes.columns)
    if missing:
        raise ValueError(f"outcomes file lacks column(s) {sorted(missing)}")
    frame = outcomes.copy()
    frame[fields.CREATED_AT] = pd.to_datetime(frame[fields.CREATED_AT])
    if fields.CONVERTED in frame.columns:
        frame[fields.CONVERTED] = frame[fields.CONVERTED].astype(int)
    elif fields.WON_AT in frame.columns:
        in_window = won_within_window(frame[fields.CREATED_AT], frame[fields.WON_AT], window_days)
        frame[fields.CONVERTED] = in_window.astype(int)
    else:
        raise ValueError("outcomes file needs a 'converted' (0/1) or a 'won_at' (date) column")
    return frame


def join_scoring_log(log_rows: pd.DataFrame, outcomes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The latest score of each lead joined to its outcome; also the leads without an outcome."""
    latest = log_rows.sort_values("scored_at").drop_duplicates(fields.LEAD_ID, keep="last")
    latest = latest[[fields.LEAD_ID, "grade", "probability", "model_version"]]
    latest[fields.LEAD_ID] = latest[fields.LEAD_ID].astype(str)
    outcomes = outcomes.assign(**{fields.LEAD_ID: outcomes[fields.LEAD_ID].astype(str)})
    joined = latest.merge(outcomes, on=fields.LEAD_ID, how="left", indicator=True)
    without = int((joined["_merge"] == "left_only").sum())
    return joined[joined["_merge"] == "both"].drop(columns="_merge"), without


@dataclass
class LiveOutcomes:
    """The scoring log joined to the CRM events stored beside it, and what did not fit."""

    scored: pd.DataFrame  # the latest score of each lead with its outcome
    without: int  # scored leads without any event yet
    never_scored: list[str]  # leads with events that the log never scored (events kept)
    contradictory: list[str]  # won and lost, or wins of different values: no outcome counted


def event_checks(events: pd.DataFrame, log_rows: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(leads with events but no scoring, leads whose outcomes contradict), each sorted."""
    from leadscore.scoring.outcomes import contradictory_leads, never_scored

    if events.empty:
        return [], []
    scored = log_rows[fields.LEAD_ID].astype(str) if len(log_rows) else []
    unscored = never_scored(events["lead_id"].astype(str), scored)
    unclear = contradictory_leads(events[["lead_id", "kind", "value"]].itertuples(index=False))
    return unscored, unclear


def live_outcomes(log_rows: pd.DataFrame, events: pd.DataFrame, window_days: int) -> LiveOutcomes:
    """The latest score of each lead (`log_rows`, the scoring log) joined to the CRM events
    stored beside it (`events`); also the leads without an event, the leads with events that
    were never scored, and those with contradictory outcomes (left out of the joined table).
    `leadscore.scoring.log_reader.read_scores_and_events` reads both."""
    from leadscore.scoring.outcomes import outcomes_frame

    unscored, unclear = event_checks(events, log_rows)
    scored, without = join_scoring_log(log_rows, outcomes_frame(events, log_rows, window_days))
    if len(log_rows):  # a contradictory lead has events: not one "without"
        without -= int(log_rows[fields.LEAD_ID].astype(str).drop_duplicates().isin(unclear).sum())
    return LiveOutcomes(scored, without, unscored, unclear)


EXAMPLES = 20  # leads named per check in the report (all of them are counted)


def outcome_checks(live: LiveOutcomes) -> dict:
    """What the feedback could not use of the CRM events as they are: counted, a few named."""
    return {
        "leads_never_scored": len(live.never_scored),
        "never_scored_examples": live.never_scored[:EXAMPLES],
        "leads_with_contradictory_outcomes": len(live.contradictory),
        "contradictory_examples": live.contradictory[:EXAMPLES],
    }


def outcome_lines(checks: dict | None) -> list[str]:
    """The report's sentences about events it could not count as they are."""
    if not checks:
        return []
    lines = []
    if checks["leads_with_contradictory_outcomes"]:
        lines.append(
            f"{checks['leads_with_contradictory_outcomes']:,} lead(s) with contradictory "
            "outcomes (won and lost, or wins of different values) are left out of the "
            f"conversion figures: {', '.join(checks['contradictory_examples'])}"
        )
    if checks["leads_never_scored"]:
        lines.append(
            f"{checks['leads_never_scored']:,} lead(s) have CRM events but were never scored "
            f"(kept, not in the figures): {', '.join(checks['never_scored_examples'])}"
        )
    return lines


def within_uncertainty(month: dict) -> str:
    """Grades below their promise whose interval still reaches it: said, not flagged."""
    names = [
        grade
        for grade, row in month["grades"].items()
        if row["below_promise"] and row["conversion_ci_high"] >= row["promise"]
    ]
    if not names:
        return ""
    return f" ({', '.join(names)} below the promise, within the uncertainty of the month)"


def render_markdown(report: dict) -> str:
    checks = [f"{line}\n" for line in outcome_lines(report.get("outcomes"))]
    if report.get("missing"):
        messages = [item["message"] for item in report["missing"]]
        return f"# Monthly lead quality ({report['source']})\n\n" + "\n".join(
            [*messages, "", *checks]
        )
    lines = [
        f"# Monthly lead quality ({report['source']}, as of {report['as_of']})",
        "",
        f"Months count once their {report['window_days']}-day outcome window has closed, or "
        "at once when every lead of the month is won or lost; "
        f"{report['leads_in_open_months']:,} leads in {report['months_open']} open month(s) "
        "wait.",
        "",
        *checks,
        "| month | leads | A (promise) | B (promise) | C (promise) | D | flag |",
        "|---|---|---|---|---|---|---|",
    ]
    for month in report["months"]:
        cells = []
        for grade in GRADES:
            row = month["grades"][grade]
            text = f"{pct(row['conversion'], 0)} of {row['leads']}"
            if row["promise"] is not None:
                text += f" ({pct(row['promise'], 0)})"
            cells.append(text)
        flag = "ok" + within_uncertainty(month)
        if month["flagged"]:
            prefix = f"{month['month']}: "
            found = "; ".join(w["message"].removeprefix(prefix) for w in month["warnings"])
            flag = f"{found} (likely cause: {month['likely_cause']})"
        flag += f"; A: {month['a_miss']}" if month.get("a_miss") else ""
        lines.append(f"| {month['month']} | {month['leads']:,} | {' | '.join(cells)} | {flag} |")
    return "\n".join(lines) + "\n"
