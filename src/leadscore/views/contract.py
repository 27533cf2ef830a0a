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
from leadscore.data.behaviour import leads_of
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
    keys = leads_of(scored)
    table = {}
    for grade in GRADES:
        in_grade = scored["grade"] == grade
        figures = group_figures(converted[in_grade], months, base_rate, total, keys[in_grade])
        worked_figures = (
            None
            if worked is None
            else group_figures(
                converted[in_grade & worked], months, base_rate, total, keys[in_grade & worked]
            )
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


def _test_period(created: pd.Series | None, months: float) -> dict:
    """The test period's first and last creation day (None when undated) and its months."""
    return {
        "from": str(created.min().date()) if created is not None else None,
        "to": str(created.max().date()) if created is not None else None,
        "months": round(months, 2),
    }


def _period_label(created: pd.Series | None) -> str:
    """The test period as the warnings name it."""
    if created is None:
        return "test"
    return f"test period {created.min().date()} to {created.max().date()}"


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
    a_conversion = grades["A"]["conversion"]
    gate = publish_gate(
        a_conversion, profiles, metrics, base_rate, contract.publish_gate, review, agreement
    )
    return ContractReport.model_validate(
        {
            "contract_version": contract.version,
            "agreement": agreement.to_dict(),
            "owners": contract.owners.model_dump(),
            "currency": contract.currency,
            "outcome": contract.outcome.model_dump(),
            "test_period": _test_period(created, months),
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
                _period_label(created),
                warning_params or WarningParams(),
            ),
            "missing": profile_gaps(scored, contract.profiles),
        }
    )
