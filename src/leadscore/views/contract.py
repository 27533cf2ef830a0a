"""Contract stage: each grade's promise beside what the test period achieved, and the publish gate.

Reads the graded test leads (`data/processed/test_scored.parquet`), the bundle's grading and the
test metrics; writes `reports/contract.json` (DVC metrics) and `reports/contract.md` (for people).
"""

from __future__ import annotations

import logging

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import WarningParams
from leadscore.core.contract import Contract
from leadscore.core.contract_report import (
    KEPT,
    KEPT_WHERE_WORKED,
    NO_LEADS,
    NOT_KEPT,
    ContractReport,
)
from leadscore.core.data_params import DataParams, follow_up_columns
from leadscore.data.leakage import EXCLUDED, REVIEW
from leadscore.data.leakage import KEPT as KEPT_INPUT
from leadscore.data.profiles import profile_gaps
from leadscore.model import health
from leadscore.model.gate import (
    covered_months,
    graded_agreement,
    group_figures,
    profile_figures,
    publish_gate,
)
from leadscore.model.grading import GRADES
from leadscore.views.format import pct

log = logging.getLogger(__name__)


def grade_verdicts(
    figures: dict,
    min_conversion: float,
    max_per_month: int | None,
    worked: dict | None = None,
) -> dict:
    """Kept / not kept per promise (the point estimate decides; the interval is reported).

    `worked`: the figures of the grade's leads sales worked, when the export records first
    contact. A conversion promise missed over all leads but kept on those is "kept where sales
    worked": the grading held, and the follow-up view answers for the leads never worked.
    """
    verdicts = {}
    if not figures["leads"]:
        verdicts["conversion"] = NO_LEADS
    elif figures["conversion"] >= min_conversion:
        verdicts["conversion"] = KEPT
    elif worked and worked["leads"] and worked["conversion"] >= min_conversion:
        verdicts["conversion"] = KEPT_WHERE_WORKED
    else:
        verdicts["conversion"] = NOT_KEPT
    if max_per_month is not None:
        verdicts["capacity"] = KEPT if figures["leads_per_month"] <= max_per_month else NOT_KEPT
    return verdicts


def worked_note(figures: dict, worked: dict) -> str:
    """Why a promise missed over all leads is kept where sales worked."""
    return (
        f"; below the promise over all its leads, but the {worked['leads']:,} leads sales worked"
        f" ({pct(worked['leads'] / figures['leads'])}) converted at {pct(worked['conversion'])} "
        f"(95 % interval {pct(worked['conversion_ci_low'])}-{pct(worked['conversion_ci_high'])}):"
        f" the shortfall is the {pct(1 - worked['leads'] / figures['leads'])} never worked, which"
        " is sales' follow-up (reports/follow_up.md)"
    )


def grade_note(
    grade: str,
    figures: dict,
    verdicts: dict,
    promise: dict,
    derived: dict,
    worked: dict | None = None,
) -> str:
    """One plain sentence per grade: what happened, and why when a promise was not kept."""
    if not figures["leads"]:
        return derived.get("note") or f"No lead was graded {grade} in the test period."
    text = (
        f"{pct(figures['conversion'])} converted (95 % interval {pct(figures['conversion_ci_low'])}"
        f"-{pct(figures['conversion_ci_high'])}) against a promise of "
        f"{pct(promise['min_conversion'], 0)}"
    )
    if verdicts.get("conversion") == KEPT_WHERE_WORKED and worked:
        text += worked_note(figures, worked)
    elif verdicts.get("conversion") == NOT_KEPT:
        if figures["conversion_ci_high"] >= promise["min_conversion"]:
            text += "; below the promise, but within the uncertainty of this period"
        else:
            text += "; clearly below the promise: re-check the contract and the model"
    if verdicts.get("capacity") == NOT_KEPT:
        text += (
            f"; {figures['leads_per_month']:.0f} leads a month exceed the capacity of "
            f"{promise['max_leads_per_month']}"
        )
    if derived.get("binding") == "capacity":
        text += ". Capacity set the bar higher than the conversion promise needs"
    return text + "."


def worked_leads(scored: pd.DataFrame, data: DataParams) -> pd.Series | None:
    """Per lead, whether sales worked it (a first contact is recorded); None when the export
    does not record first contact."""
    first_contact = follow_up_columns(data).first_contact
    return scored[first_contact].notna() if first_contact in scored else None


def grade_table(
    scored: pd.DataFrame,
    contract: Contract,
    grading_record: dict,
    months: float | None = None,
    worked: pd.Series | None = None,
) -> dict:
    """Per grade: the promise, the threshold and what the test period achieved.

    `worked`: per lead, whether sales worked it (a first contact is recorded), when the export
    says; each grade then also gets the conversion of the leads sales worked.
    """
    months = covered_months(scored, months)
    converted = scored[fields.CONVERTED].astype(int)
    base_rate, total = float(converted.mean()), int(converted.sum())
    derived = grading_record.get("derivation", {}).get("grades", {})
    table = {}
    for grade in GRADES:
        in_grade = scored["grade"] == grade
        figures = group_figures(converted[in_grade], months, base_rate, total)
        worked_figures = (
            None
            if worked is None
            else group_figures(converted[in_grade & worked], months, base_rate, total)
        )
        entry = {
            **figures,
            "threshold": grading_record["thresholds"].get(grade),
            "worked": worked_figures,
        }
        promise = getattr(contract.grades, grade, None)  # D has no promise
        if promise is not None:
            promise_dict = promise.model_dump()
            verdicts = grade_verdicts(
                figures, promise.min_conversion, promise.max_leads_per_month, worked_figures
            )
            entry.update(
                promise=promise_dict,
                verdicts=verdicts,
                note=grade_note(
                    grade, figures, verdicts, promise_dict, derived.get(grade, {}), worked_figures
                ),
            )
        else:
            entry.update(promise=None, verdicts={}, note="The rest: no promise.")
        table[grade] = entry
    return table


def contract_warnings(
    grades: dict,
    contract: Contract,
    grading_record: dict,
    metrics: dict,
    period: str,
    settings: WarningParams,
) -> list[dict]:
    """The model's warnings (from the evaluate stage) and the grades': order, promises, bounds."""
    counts = {grade: (row["leads"], row["conversions"]) for grade, row in grades.items()}
    derived = grading_record.get("derivation", {}).get("grades", {})
    bindings = {grade: row.get("binding") for grade, row in derived.items()}
    return [
        *metrics.get("warnings", []),
        *health.grades_out_of_order(period, counts, settings),
        *health.promise_checks(period, counts, contract.grades, settings, bindings),
        *health.threshold_at_bound("grading", grading_record["thresholds"]),
    ]


def render_warnings(warnings: list[dict]) -> list[str]:
    if not warnings:
        return ["## Warnings: none", ""]
    return [f"## Warnings ({len(warnings)})", "", *[f"- {w['message']}" for w in warnings], ""]


def contract_report(
    scored: pd.DataFrame,
    contract: Contract,
    grading_record: dict,
    metrics: dict,
    months: float | None = None,
    review: dict | None = None,
    warning_params: WarningParams | None = None,
    worked: pd.Series | None = None,
) -> ContractReport:
    """The whole contract report: grades, profiles, the leakage review and the publish gate.

    `months`: how long the test period is, for an export without creation dates
    (`leadscore.model.gate.undated_months`). `review`: `{"thresholds": ..., "fields": ...}`
    from leadscore.data.leakage.with_importance. `worked`: per lead, whether sales worked it
    (see `grade_table`).
    """
    dated = fields.CREATED_AT in scored
    created = pd.to_datetime(scored[fields.CREATED_AT]) if dated else None
    base_rate = float(scored[fields.CONVERTED].mean())
    months = covered_months(scored, months)
    grades = grade_table(scored, contract, grading_record, months, worked)
    profiles = profile_figures(scored, contract.profiles, months)
    agreement = graded_agreement(contract, grading_record)
    gate = publish_gate(
        grades["A"]["conversion"],
        profiles,
        metrics,
        base_rate,
        contract.publish_gate,
        review,
        agreement,
    )
    return ContractReport.model_validate(
        {
            "contract_version": contract.version,
            "agreement": agreement.to_dict(),
            "owners": contract.owners.model_dump(),
            "currency": contract.currency,
            "outcome": contract.outcome.model_dump(),
            "test_period": {
                "from": str(created.min().date()) if created is not None else None,
                "to": str(created.max().date()) if created is not None else None,
                "months": round(months, 2),
            },
            "signal": metrics.get("signal"),
            "leads": int(len(scored)),
            "conversions": int(scored[fields.CONVERTED].sum()),
            "base_rate": base_rate,
            "grades": grades,
            "profiles": profiles,
            "derivation": grading_record.get("derivation", {}),
            "field_review": review,
            "publish_gate": gate,
            "warnings": contract_warnings(
                grades,
                contract,
                grading_record,
                metrics,
                f"test period {created.min().date()} to {created.max().date()}"
                if created is not None
                else "test",
                warning_params or WarningParams(),
            ),
            "missing": profile_gaps(scored, contract.profiles),
        }
    )


def render_markdown(typed: ContractReport) -> str:
    """`reports/contract.md`: the promises and the verdicts, readable without the code."""
    report = typed.to_json()
    agreement = report["agreement"]
    period = report["test_period"]
    title = "promises vs the test period"
    lines = [
        f"# A-lead contract {report['contract_version']}: {title}"
        if agreement["agreed"]
        else f"# PROPOSAL (not agreed): {title}",
        "",
        agreement["headline"] if agreement["agreed"] else f"**{agreement['headline']}**",
        "",
        f"Converted = {report['outcome']['converted_when']} "
        f"({report['outcome']['window_days']} days).",
        (
            f"Test period {period['from']} to {period['to']} ({period['months']} months): "
            if period["from"]
            else f"Test set (no creation dates; about {period['months']} months of leads): "
        )
        + f"{report['leads']:,} leads, {report['conversions']:,} conversions, base rate "
        f"{pct(report['base_rate'])}.",
        "",
    ]
    lines += [f"> {item['message']}" for item in report.get("missing", [])]
    lines += [""] if report.get("missing") else []
    signal = report.get("signal")
    if signal and not signal["usable"]:
        lines += [f"**The data carry no usable signal.** {signal['reason']}.", ""]
    lines += [
        "| grade | promise | achieved (95 % interval) | leads/month | share of conversions "
        "| verdict |",
        "|---|---|---|---|---|---|",
    ]
    for grade, row in report["grades"].items():
        promise = row["promise"]
        if promise:
            text = f">= {pct(promise['min_conversion'], 0)}"
            if promise.get("max_leads_per_month"):
                text += f", <= {promise['max_leads_per_month']}/month"
            verdict = ", ".join(f"{k}: {v}" for k, v in row["verdicts"].items())
        else:
            text, verdict = "the rest", "-"
        lines.append(
            f"| {grade} | {text} | {pct(row['conversion'])} ({pct(row['conversion_ci_low'])}"
            f"-{pct(row['conversion_ci_high'])}) | {row['leads_per_month']:.0f} "
            f"| {pct(row['share_of_conversions'])} | {verdict} |"
        )
    lines += ["", *[f"- **{g}**: {row['note']}" for g, row in report["grades"].items()], ""]
    lines += render_warnings(report.get("warnings", []))
    gate = report["publish_gate"]
    lines += [
        f"## Publish gate: {'publishable' if gate['publishable'] else 'NOT publishable'}",
        "",
        "| check | required | actual | passed |",
        "|---|---|---|---|",
    ]
    for name, item in gate["checks"].items():
        lines.append(
            f"| {name} ({item['why']}) | {shown(item['required'])} | {shown(item['actual'])} "
            f"| {'yes' if item['passed'] else 'NO'} |"
        )
    explained = [item for item in gate["checks"].values() if item.get("explanation")]
    if explained:
        lines += ["", *[f"- **{item['why']}**: {item['explanation']}" for item in explained]]
    if report.get("field_review"):
        lines += ["", *review_markdown(report["field_review"])]
    return "\n".join(lines) + "\n"


def shown(value) -> str:
    """A gate figure for people: 4 significant digits, lists joined, nothing as "none"."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return "-" if value is None else str(value)


VERDICT_ORDER = {REVIEW: 0, EXCLUDED: 1, KEPT_INPUT: 2}


def review_rows(review: dict) -> list[tuple[str, dict]]:
    """The review's fields, those under review first, then by single-field AUC."""
    return sorted(
        review["fields"].items(),
        key=lambda item: (
            VERDICT_ORDER.get(item[1]["verdict"], 3),
            -(item[1]["single_field_auc"] or 0.0),
            item[0],
        ),
    )


def review_rule(thresholds: dict) -> str:
    """The review's rules in one paragraph."""
    return (
        "Excluded: identifiers, constant fields, dates (post-creation when most fall after "
        "the lead's creation), fields present for only one outcome, and fields whose "
        f"out-of-fold AUC alone is at least {thresholds['max_single_field_auc']}. Needs review: "
        f"single-field AUC (or the AUC of its missingness) of at least "
        f"{thresholds['review_single_field_auc']}, more than "
        f"{pct(thresholds['max_importance_share'], 0)} of the model's permutation importance, "
        "still being filled in after creation (its values or missingness tell the leads created "
        "in the last days before the export from older ones, lower end of the 95 % interval of "
        "that AUC "
        f"at least {thresholds.get('review_recent_auc_lower_bound', 0.6)}), or a "
        "post-contact name cue (a name alone never excludes). A field under review blocks "
        "publishing until contract.allowed_fields signs it off or contract.excluded_fields "
        "excludes it."
    )


def verdict_text(row: dict) -> str:
    text = row["verdict"]
    if row.get("allowed_by_contract"):
        reason = row.get("allowed_reason") or "no reason given"
        text += f"; allowed by the contract ({reason})"
    elif row.get("awaiting_sign_off"):
        text += "; BLOCKS publishing"
    return text


def _auc_text(row: dict) -> str:
    if row["single_field_auc"] is None:
        return "-"
    return f"{row['single_field_auc']:.3f} ({row['auc_ci_low']:.3f}-{row['auc_ci_high']:.3f})"


def _missing_auc_text(row: dict) -> str:
    return "-" if row["missing_auc"] is None else f"{row['missing_auc']:.3f}"


def _recent_text(row: dict) -> str:
    """Newest leads against older ones: AUC, lower end of its interval, window, what differs."""
    if row.get("recent_auc") is None:
        return "-"
    return (
        f"{row['recent_auc']:.3f} (from {row['recent_auc_ci_low']:.3f}; "
        f"{row['recent_days']} d, {row['recent_by']})"
    )


def review_markdown(review: dict) -> list[str]:
    """The leakage review table of `reports/contract.md`."""
    lines = [
        "## Leakage review: which fields the model may use",
        "",
        review_rule(review["thresholds"]),
        "",
        "| field | kind | single-field AUC (95 %) | missing AUC | newest vs older leads AUC "
        "| share of importance | input | verdict | evidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in review_rows(review):
        share = row.get("importance_share")
        lines.append(
            f"| {name} | {row['kind']} | {_auc_text(row)} "
            f"| {_missing_auc_text(row)} | {_recent_text(row)} | {pct(share)} "
            f"| {'yes' if row['input'] else 'no'} | {verdict_text(row)} "
            f"| {'; '.join(row['reasons']) or '-'} |"
        )
    return lines
