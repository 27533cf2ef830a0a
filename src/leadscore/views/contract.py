"""Contract stage: each grade's promise beside what the test period achieved, and the publish gate.

Reads the graded test leads (`data/processed/test_scored.parquet`), the bundle's grading and the
test metrics; writes `reports/contract.json` (DVC metrics) and `reports/contract.md` (for people).
"""

from __future__ import annotations

import logging

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import Contract, PublishGate
from leadscore.core.stats import period_months, wilson_interval
from leadscore.model.grading import GRADES
from leadscore.views.format import pct
from leadscore.views.profiles import fitting_mask, profile_gaps

log = logging.getLogger(__name__)

KEPT, NOT_KEPT = "kept", "not kept"


def group_figures(converted: pd.Series, months: float, base_rate: float, total: int) -> dict:
    """Leads, conversions, conversion with interval, volume per month, share and lift."""
    leads, conversions = int(len(converted)), int(converted.sum())
    low, high = wilson_interval(conversions, leads)
    conversion = conversions / leads if leads else None
    return {
        "leads": leads,
        "conversions": conversions,
        "conversion": conversion,
        "conversion_ci_low": low,
        "conversion_ci_high": high,
        "leads_per_month": leads / months,
        "share_of_conversions": conversions / total if total else 0.0,
        "lift": conversion / base_rate if conversion is not None and base_rate else None,
    }


def grade_verdicts(figures: dict, min_conversion: float, max_per_month: int | None) -> dict:
    """Kept / not kept per promise (the point estimate decides; the interval is reported)."""
    verdicts = {}
    if figures["leads"]:
        verdicts["conversion"] = KEPT if figures["conversion"] >= min_conversion else NOT_KEPT
    else:
        verdicts["conversion"] = NOT_KEPT
    if max_per_month is not None:
        verdicts["capacity"] = KEPT if figures["leads_per_month"] <= max_per_month else NOT_KEPT
    return verdicts


def grade_note(grade: str, figures: dict, verdicts: dict, promise: dict, derived: dict) -> str:
    """One plain sentence per grade: what happened, and why when a promise was not kept."""
    if not figures["leads"]:
        return derived.get("note") or f"No lead was graded {grade} in the test period."
    text = (
        f"{figures['conversion']:.1%} converted (95 % interval {figures['conversion_ci_low']:.1%}"
        f"-{figures['conversion_ci_high']:.1%}) against a promise of "
        f"{promise['min_conversion']:.0%}"
    )
    if verdicts.get("conversion") == NOT_KEPT:
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


def test_months(scored: pd.DataFrame, months: float | None) -> float:
    """Months the test period covers: from creation dates, or as given for an undated export."""
    return months if months is not None else period_months(scored[fields.CREATED_AT])


def grade_table(
    scored: pd.DataFrame, contract: Contract, grading_record: dict, months: float | None = None
) -> dict:
    """Per grade: the promise, the threshold and what the test period achieved."""
    months = test_months(scored, months)
    converted = scored[fields.CONVERTED].astype(int)
    base_rate, total = float(converted.mean()), int(converted.sum())
    derived = grading_record.get("derivation", {}).get("grades", {})
    table = {}
    for grade in GRADES:
        figures = group_figures(converted[scored["grade"] == grade], months, base_rate, total)
        entry = {**figures, "threshold": grading_record["thresholds"].get(grade)}
        promise = getattr(contract.grades, grade, None)  # D has no promise
        if promise is not None:
            promise_dict = promise.model_dump()
            verdicts = grade_verdicts(figures, promise.min_conversion, promise.max_leads_per_month)
            entry.update(
                promise=promise_dict,
                verdicts=verdicts,
                note=grade_note(grade, figures, verdicts, promise_dict, derived.get(grade, {})),
            )
        else:
            entry.update(promise=None, verdicts={}, note="The rest: no promise.")
        table[grade] = entry
    return table


def profile_figures(
    scored: pd.DataFrame, contract: Contract, months: float | None = None
) -> dict[str, dict]:
    """Leads and conversion of each side's rule profile on the test period."""
    converted = scored[fields.CONVERTED].astype(int)
    months = test_months(scored, months)
    base_rate, total = float(converted.mean()), int(converted.sum())
    return {
        name: group_figures(converted[fitting_mask(scored, profile)], months, base_rate, total)
        for name, profile in (
            ("marketing", contract.profiles.marketing),
            ("sales", contract.profiles.sales),
        )
    }


def check(required, actual, passed: bool, why: str) -> dict:
    return {"required": required, "actual": actual, "passed": bool(passed), "why": why}


def publish_gate(
    grades: dict, profiles: dict[str, dict], metrics: dict, base_rate: float, gate: PublishGate
) -> dict:
    """May this model be served? Every check of the contract's gate, with its numbers."""
    positives = int(round(metrics.get("base_rate", base_rate) * metrics.get("leads", 0)))
    negatives = int(metrics.get("leads", 0)) - positives
    auc_low = metrics.get("roc_auc_ci_low")
    a_conversion = grades["A"]["conversion"] or 0.0
    best_name = max(profiles, key=lambda name: profiles[name]["conversion"] or 0.0)
    best_conversion = profiles[best_name]["conversion"] or 0.0
    lift = a_conversion / base_rate if base_rate else 0.0
    checks = {
        "min_positives": check(
            gate.min_positives, positives, positives >= gate.min_positives, "converted test leads"
        ),
        "min_negatives": check(
            gate.min_negatives, negatives, negatives >= gate.min_negatives, "unconverted test leads"
        ),
        "auc_lower_bound": check(
            gate.min_auc_lower_bound,
            auc_low,
            auc_low is not None and auc_low >= gate.min_auc_lower_bound,
            "lower end of the 95 % interval of the test AUC (0.5 = no signal)",
        ),
        "lift_over_base_rate": check(
            gate.min_lift_over_base_rate,
            lift,
            lift >= gate.min_lift_over_base_rate,
            "A-grade conversion / base rate",
        ),
        "margin_over_best_profile": check(
            gate.min_margin_over_best_profile,
            a_conversion - best_conversion,
            a_conversion - best_conversion >= gate.min_margin_over_best_profile,
            f"A-grade conversion minus the best rule profile's ({best_name})",
        ),
    }
    return {"publishable": all(c["passed"] for c in checks.values()), "checks": checks}


def contract_report(
    scored: pd.DataFrame,
    contract: Contract,
    grading_record: dict,
    metrics: dict,
    months: float | None = None,
) -> dict:
    """The whole contract report: grades, profiles and the publish gate.

    `months`: how long the test period is, for an export without creation dates.
    """
    dated = fields.CREATED_AT in scored
    created = pd.to_datetime(scored[fields.CREATED_AT]) if dated else None
    base_rate = float(scored[fields.CONVERTED].mean())
    months = test_months(scored, months)
    grades = grade_table(scored, contract, grading_record, months)
    profiles = profile_figures(scored, contract, months)
    return {
        "contract_version": contract.version,
        "agreed_by": contract.agreed_by.model_dump(),
        "outcome": contract.outcome.model_dump(),
        "test_period": {
            "from": str(created.min().date()) if dated else None,
            "to": str(created.max().date()) if dated else None,
            "months": round(months, 2),
        },
        "signal": metrics.get("signal"),
        "leads": int(len(scored)),
        "conversions": int(scored[fields.CONVERTED].sum()),
        "base_rate": base_rate,
        "grades": grades,
        "profiles": profiles,
        "derivation": grading_record.get("derivation", {}),
        "publish_gate": publish_gate(grades, profiles, metrics, base_rate, contract.publish_gate),
        "missing": profile_gaps(scored, contract.profiles),
    }


def render_markdown(report: dict) -> str:
    """`reports/contract.md`: the promises and the verdicts, readable without the code."""
    agreed = report["agreed_by"]
    period = report["test_period"]
    lines = [
        f"# A-lead contract {report['contract_version']}: promises vs the test period",
        "",
        f"Agreed by {agreed['sales_owner']} and {agreed['marketing_owner']} on {agreed['date']}. "
        f"Converted = {report['outcome']['converted_when']} "
        f"({report['outcome']['window_days']} days).",
        (
            f"Test period {period['from']} to {period['to']} ({period['months']} months): "
            if period["from"]
            else f"Test set (no creation dates; about {period['months']} months of leads): "
        )
        + f"{report['leads']:,} leads, {report['conversions']:,} conversions, base rate "
        f"{report['base_rate']:.1%}.",
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
            text = f">= {promise['min_conversion']:.0%}"
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
    gate = report["publish_gate"]
    lines += [
        f"## Publish gate: {'publishable' if gate['publishable'] else 'NOT publishable'}",
        "",
        "| check | required | actual | passed |",
        "|---|---|---|---|",
    ]
    for name, item in gate["checks"].items():
        actual = item["actual"]
        shown = f"{actual:.4g}" if isinstance(actual, float) else str(actual)
        lines.append(
            f"| {name} ({item['why']}) | {item['required']} | {shown} "
            f"| {'yes' if item['passed'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"
