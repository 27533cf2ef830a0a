"""Contract stage: each grade's promise beside what the test period achieved, and the publish gate.

Reads the graded test leads (`data/processed/test_scored.parquet`), the bundle's grading and the
test metrics; writes `reports/contract.json` (DVC metrics) and `reports/contract.md` (for people).
"""

from __future__ import annotations

import logging

import pandas as pd

from leadscore.core import fields
from leadscore.core.agreement import Agreement, sealed_agreement
from leadscore.core.config import Contract, PublishGate, WarningParams
from leadscore.core.stats import period_months, wilson_interval
from leadscore.data.leakage import awaiting_sign_off
from leadscore.model import health
from leadscore.model.grading import GRADES
from leadscore.views.format import KEPT, KEPT_WHERE_WORKED, NO_LEADS, NOT_KEPT, pct
from leadscore.views.profiles import fitting_mask, profile_gaps

log = logging.getLogger(__name__)


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
        f" ({worked['leads'] / figures['leads']:.1%}) converted at {worked['conversion']:.1%} "
        f"(95 % interval {worked['conversion_ci_low']:.1%}-{worked['conversion_ci_high']:.1%}):"
        f" the shortfall is the {1 - worked['leads'] / figures['leads']:.1%} never worked, which"
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
        f"{figures['conversion']:.1%} converted (95 % interval {figures['conversion_ci_low']:.1%}"
        f"-{figures['conversion_ci_high']:.1%}) against a promise of "
        f"{promise['min_conversion']:.0%}"
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


def test_months(scored: pd.DataFrame, months: float | None) -> float:
    """Months the test period covers: from creation dates, or as given for an undated export."""
    return months if months is not None else period_months(scored[fields.CREATED_AT])


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
    months = test_months(scored, months)
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


def check(required, actual, passed: bool, why: str, explanation: str = "") -> dict:
    return {
        "required": required,
        "actual": actual,
        "passed": bool(passed),
        "why": why,
        "explanation": explanation,
    }


def odds(rate: float) -> float:
    """Converted : not converted (rate / (1 - rate))."""
    return rate / (1 - rate)


def conversion_for_odds_ratio(base_rate: float, ratio: float) -> float:
    """The conversion whose odds are `ratio` times the odds of `base_rate`."""
    target = ratio * odds(base_rate)
    return target / (1 + target)


NO_A_LEADS = "Not assessable: no lead was graded A in the test period (see the grade's note)."


def odds_ratio_check(a_conversion: float | None, base_rate: float, required: float) -> dict:
    """A leads must convert at odds `required` times the base rate's: reachable at any base rate."""
    why = "odds of converting, A grade / all test leads"
    if a_conversion is None:
        return check(required, None, False, why, NO_A_LEADS)
    if not 0 < base_rate < 1:
        return check(
            required,
            None,
            False,
            "odds of converting, A grade / all test leads",
            "Not assessable: the test period has only one outcome.",
        )
    needed = conversion_for_odds_ratio(base_rate, required)
    ratio = odds(a_conversion) / odds(base_rate) if a_conversion < 1 else None
    explanation = (
        f"The odds that an A lead converts (converted : not converted) must be at least "
        f"{required:g} times the odds of the average test lead. At this base rate of "
        f"{base_rate:.1%} that means A leads must convert at {needed:.1%} or more; they "
        f"converted at {a_conversion:.1%}"
        + (f" (odds ratio {ratio:.2f})" if ratio is not None else "")
        + ". Unlike a lift (A conversion / base rate), which can never exceed 1 / base rate "
        f"(here {1 / base_rate:.2f}), this bar can be met at any base rate; when conversions "
        "are rare it reads almost as a lift."
    )
    result = check(
        required,
        ratio,
        a_conversion >= needed - 1e-12,
        "odds of converting, A grade / all test leads",
        explanation,
    )
    return {**result, "required_a_conversion": needed}


def lift_check(a_conversion: float | None, base_rate: float, required: float) -> dict:
    """The optional plain-lift rule, saying so when the base rate puts it out of reach."""
    if a_conversion is None:
        return check(required, None, False, "A-grade conversion / base rate", NO_A_LEADS)
    lift = a_conversion / base_rate if base_rate else 0.0
    explanation = (
        f"A leads must convert at {required:g} times the base rate: {required * base_rate:.1%}."
    )
    if base_rate and required > 1 / base_rate:
        explanation += (
            f" This cannot be reached at a base rate of {base_rate:.1%}: the largest possible "
            f"lift is 1 / base rate = {1 / base_rate:.2f}. Use min_odds_ratio_over_base_rate."
        )
    return check(required, lift, lift >= required, "A-grade conversion / base rate", explanation)


def review_check(review: dict) -> dict:
    """No input the leakage review put under review may lack the contract's sign-off."""
    waiting = awaiting_sign_off(review["fields"])
    explanation = (
        "Every input the leakage review put under review must be signed off in "
        "contract.allowed_fields (known at the moment of scoring, with a reason) or excluded "
        "in contract.excluded_fields."
    )
    if waiting:
        explanation += " Waiting: " + ", ".join(waiting) + "."
    return check(
        [],
        waiting,
        not waiting,
        "inputs under leakage review without the contract's sign-off",
        explanation,
    )


def agreement_check(agreement: Agreement) -> dict:
    """The promises bind only when both owners approved exactly this contract."""
    explanation = agreement.headline()
    if agreement.problems:
        explanation += " Refused: " + "; ".join(agreement.problems) + "."
    return check(
        "agreed by both owners",
        "agreed" if agreement.agreed else "not agreed",
        agreement.agreed,
        "the contract the model was graded under is agreed by both owners",
        "" if agreement.agreed else explanation,
    )


def publish_gate(
    grades: dict,
    profiles: dict[str, dict],
    metrics: dict,
    base_rate: float,
    gate: PublishGate,
    review: dict | None = None,
    agreement: Agreement | None = None,
) -> dict:
    """May this model be served? Every check of the contract's gate, with its numbers.

    `review`: the leakage review completed with the model's importance (`field_review` of the
    contract report); without it the sign-off check is left out. `agreement`: the owners'
    approvals of the contract the model was graded under; a model graded under a proposal
    fails the gate.
    """
    positives = int(round(metrics.get("base_rate", base_rate) * metrics.get("leads", 0)))
    negatives = int(metrics.get("leads", 0)) - positives
    auc_low = metrics.get("roc_auc_gate_low", metrics.get("roc_auc_ci_low"))
    a_conversion = grades["A"]["conversion"]  # None: no lead was graded A
    best_name = max(profiles, key=lambda name: profiles[name]["conversion"] or 0.0)
    best_conversion = profiles[best_name]["conversion"] or 0.0
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
            "lower end of the 95 % interval of the test AUC, the worst over seeds "
            "(0.5 = no signal)",
        ),
        "odds_ratio_over_base_rate": odds_ratio_check(
            a_conversion, base_rate, gate.min_odds_ratio_over_base_rate
        ),
    }
    if gate.min_lift_over_base_rate is not None:
        checks["lift_over_base_rate"] = lift_check(
            a_conversion, base_rate, gate.min_lift_over_base_rate
        )
    margin = None if a_conversion is None else a_conversion - best_conversion
    checks["margin_over_best_profile"] = check(
        gate.min_margin_over_best_profile,
        margin,
        margin is not None and margin >= gate.min_margin_over_best_profile,
        f"A-grade conversion minus the best rule profile's ({best_name})",
        NO_A_LEADS if margin is None else "",
    )
    if review is not None:
        checks["fields_under_review"] = review_check(review)
    if agreement is not None:
        checks["agreement"] = agreement_check(agreement)
    return {"publishable": all(c["passed"] for c in checks.values()), "checks": checks}


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
) -> dict:
    """The whole contract report: grades, profiles, the leakage review and the publish gate.

    `months`: how long the test period is, for an export without creation dates. `review`:
    `{"thresholds": ..., "fields": ...}` from leadscore.data.leakage.with_importance. `worked`:
    per lead, whether sales worked it (see `grade_table`).
    """
    dated = fields.CREATED_AT in scored
    created = pd.to_datetime(scored[fields.CREATED_AT]) if dated else None
    base_rate = float(scored[fields.CONVERTED].mean())
    months = test_months(scored, months)
    grades = grade_table(scored, contract, grading_record, months, worked)
    profiles = profile_figures(scored, contract, months)
    agreement = sealed_agreement({"contract": contract.model_dump(mode="json"), **grading_record})
    return {
        "contract_version": contract.version,
        "agreement": agreement.to_dict(),
        "owners": contract.owners.model_dump(),
        "currency": contract.currency,
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
        "field_review": review,
        "publish_gate": publish_gate(
            grades, profiles, metrics, base_rate, contract.publish_gate, review, agreement
        ),
        "warnings": contract_warnings(
            grades,
            contract,
            grading_record,
            metrics,
            f"test period {created.min().date()} to {created.max().date()}" if dated else "test",
            warning_params or WarningParams(),
        ),
        "missing": profile_gaps(scored, contract.profiles),
    }


def render_markdown(report: dict) -> str:
    """`reports/contract.md`: the promises and the verdicts, readable without the code."""
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


VERDICT_ORDER = {"needs review": 0, "excluded": 1, "kept": 2}


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
        f"{thresholds['max_importance_share']:.0%} of the model's permutation importance, still "
        "being filled in after creation (its values or missingness tell the leads created in the "
        "last days before the export from older ones, lower end of the 95 % interval of that AUC "
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
