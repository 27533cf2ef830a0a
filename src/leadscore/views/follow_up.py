"""Follow-up view: sales' side of the contract, on the same leads as the grade promises.

Per month and grade: the share of leads first contacted within each promise of
`contract.follow_up`, the median business hours to first contact, and the share never worked.
For A leads: conversion of those worked within the promise against those worked late or never,
and what the difference cost in deals and revenue. A verdict per promise (kept / not kept; the
point estimate decides, the 95 % interval is reported), as for the grade promises.

Time to first contact is counted in business hours (leadscore.core.business_hours) from the
lead's creation; a lead without a first contact has missed every promise. Whatever the data
lack (first-contact dates, creation dates, deal values) is named with the key that provides it.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.business_hours import business_hours_between
from leadscore.core.contract import Contract, FollowUpPromise
from leadscore.core.contract_report import KEPT, NO_LEADS, NOT_KEPT
from leadscore.core.data_params import (
    GENERATOR_ECONOMICS,
    GENERATOR_FOLLOW_UP,
    EconomicsColumns,
    FollowUpColumns,
)
from leadscore.core.stats import conversion_figures
from leadscore.model.grading import GRADES
from leadscore.views.format import money, pct
from leadscore.views.needs import need

log = logging.getLogger(__name__)

SECTION = "The follow-up view"
PROMPT, LATE, NEVER = "within the promise", "late", "never worked"


def contact_hours(
    scored: pd.DataFrame, contract: Contract, columns: FollowUpColumns
) -> pd.Series | None:
    """Business hours from creation to first contact per lead (NaN: never contacted), or None
    when the data have no first-contact dates or no creation dates."""
    column = columns.first_contact
    if not column or column not in scored or fields.CREATED_AT not in scored:
        return None
    day = contract.follow_up.business_hours
    return business_hours_between(
        scored[fields.CREATED_AT], scored[column], day.start_hour, day.end_hour
    )


def share_figures(hits: int, leads: int) -> dict:
    """A share with its 95 % Wilson interval (`conversion_figures`, named as a share)."""
    figures = conversion_figures(int(hits), int(leads))
    return {
        "leads": figures["leads"],
        "hits": figures["conversions"],
        "share": figures["conversion"],
        "share_ci_low": figures["conversion_ci_low"],
        "share_ci_high": figures["conversion_ci_high"],
    }


def promise_label(promise: FollowUpPromise) -> str:
    return promise.says or (
        f">= {pct(promise.min_share, 0)} first contacted within "
        f"{promise.within_business_hours:g} business hours"
    )


def promise_verdict(hours: pd.Series, promise: FollowUpPromise) -> dict:
    """One promise on one group of leads: the share kept, its interval, verdict and note."""
    figures = share_figures(int((hours <= promise.within_business_hours).sum()), len(hours))
    kept = figures["share"] is not None and figures["share"] >= promise.min_share
    verdict = NO_LEADS if figures["share"] is None else KEPT if kept else NOT_KEPT
    if figures["share"] is None:
        note = "No lead of this grade in the period."
    else:
        note = (
            f"{pct(figures['share'])} first contacted within {promise.within_business_hours:g} "
            f"business hours (95 % interval {pct(figures['share_ci_low'])}-"
            f"{pct(figures['share_ci_high'])}) against a promise of {pct(promise.min_share, 0)}"
        )
        if not kept:
            note += (
                "; below the promise, but within the uncertainty of this period"
                if figures["share_ci_high"] >= promise.min_share
                else "; clearly below the promise"
            )
        note += "."
    return {
        **figures,
        "promise": promise.model_dump(),
        "label": promise_label(promise),
        "verdict": verdict,
        "note": note,
    }


def grade_figures(hours: pd.Series, promises: tuple[FollowUpPromise, ...]) -> dict:
    """Follow-up of one grade in one period: contacted within each promise, median time to first
    contact (leads worked), share never worked."""
    worked = hours.dropna()
    return {
        "leads": int(len(hours)),
        "median_hours_to_contact": float(worked.median()) if len(worked) else None,
        "never_worked_share": float(hours.isna().mean()) if len(hours) else None,
        "within_promise": [
            float((hours <= p.within_business_hours).mean()) if len(hours) else None
            for p in promises
        ],
    }


def speed_group(hours: pd.Series, within: float) -> pd.Series:
    """Within the promise, late, or never worked, per lead."""
    group = np.where(hours.isna(), NEVER, np.where(hours <= within, PROMPT, LATE))
    return pd.Series(group, index=hours.index)


def slow_follow_up_cost(
    leads: pd.DataFrame, hours: pd.Series, within: float, deal_value: str | None
) -> dict:
    """Conversion of leads worked within the promise against late and never worked ones, and
    the deals and revenue the late and never worked leads would have brought at the prompt
    conversion rate (an upper bound when sales picks the better leads first)."""
    group = speed_group(hours, within)
    won = leads[fields.CONVERTED].astype(bool)
    values = pd.to_numeric(leads[deal_value], errors="coerce") if deal_value else pd.Series(np.nan)
    rows = {}
    for name in (PROMPT, LATE, NEVER):
        part = group == name
        figures = share_figures(int(won[part].sum()), int(part.sum()))
        rows[name] = {
            "leads": figures["leads"],
            "conversions": figures["hits"],
            "conversion": figures["share"],
            "conversion_ci_low": figures["share_ci_low"],
            "conversion_ci_high": figures["share_ci_high"],
        }
    prompt = rows[PROMPT]["conversion"]
    slow = [rows[LATE], rows[NEVER]]
    slow_leads = sum(r["leads"] for r in slow)
    slow_deals = sum(r["conversions"] for r in slow)
    deals_lost = max(0.0, slow_leads * prompt - slow_deals) if prompt is not None else None
    won_values = values[won].dropna() if deal_value else pd.Series(dtype=float)
    average_deal = float(won_values.mean()) if len(won_values) else None
    revenue_lost = (
        deals_lost * average_deal if deals_lost is not None and average_deal is not None else None
    )
    return {
        "within_business_hours": within,
        "groups": rows,
        "slow_leads": int(slow_leads),
        "deals_lost": deals_lost,
        "average_deal_value": average_deal,
        "revenue_lost": revenue_lost,
    }


def months_of(scored: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(scored[fields.CREATED_AT]).dt.to_period("M").astype(str)


def monthly_rows(
    scored: pd.DataFrame, hours: pd.Series, contract: Contract, deal_value: str | None
) -> list[dict]:
    """Per creation month: follow-up per grade, and for A what slow follow-up cost."""
    promises = contract.follow_up.promises
    a_within = promises["A"][0].within_business_hours if promises.get("A") else None
    rows = []
    for month, part in scored.groupby(months_of(scored), sort=True):
        grades = {
            grade: grade_figures(
                hours[part.index[part["grade"] == grade]], tuple(promises.get(grade, ()))
            )
            for grade in GRADES
        }
        row = {"month": month, "leads": int(len(part)), "grades": grades}
        if a_within is not None:
            a = part[part["grade"] == "A"]
            row["a_cost"] = slow_follow_up_cost(a, hours[a.index], a_within, deal_value)
        rows.append(row)
    return rows


def follow_up_report(
    scored: pd.DataFrame,
    contract: Contract,
    columns: FollowUpColumns = GENERATOR_FOLLOW_UP,
    economics: EconomicsColumns = GENERATOR_ECONOMICS,
) -> dict:
    """The follow-up view of the graded test leads; `missing` names what the data lack."""
    day = contract.follow_up.business_hours
    report: dict = {
        "business_hours": day.model_dump(),
        "promises": {},
        "months": [],
        "a_cost": None,
        "missing": [],
    }
    if fields.CREATED_AT not in scored or scored[fields.CREATED_AT].isna().all():
        report["missing"].append(need(SECTION, "dates"))
        return report
    hours = contact_hours(scored, contract, columns)
    if hours is None:
        report["missing"].append(need(SECTION, "first_contact"))
        return report
    deal_value = economics.deal_value if economics.deal_value in scored else None
    if deal_value is None:
        report["missing"].append(need("The revenue slow follow-up cost", "deal_value"))
    report["months"] = monthly_rows(scored, hours, contract, deal_value)
    for grade, promises in contract.follow_up.promises.items():
        part = hours[scored["grade"] == grade]
        report["promises"][grade] = [promise_verdict(part, promise) for promise in promises]
    report["grades"] = {
        grade: grade_figures(
            hours[scored["grade"] == grade], tuple(contract.follow_up.promises.get(grade, ()))
        )
        for grade in GRADES
    }
    if contract.follow_up.promises.get("A"):
        a = scored[scored["grade"] == "A"]
        within = contract.follow_up.promises["A"][0].within_business_hours
        report["a_cost"] = slow_follow_up_cost(a, hours[a.index], within, deal_value)
    report["touches_column"] = columns.touches if columns.touches in scored else None
    return report


def broken_promises(report: dict) -> list[str]:
    """`A (A leads are first contacted within 24 business hours)` for each promise not kept."""
    return [
        f"{grade} ({item['label']})"
        for grade, items in report.get("promises", {}).items()
        for item in items
        if item["verdict"] != KEPT
    ]


def attribute_miss(
    a_leads: pd.DataFrame, contract: Contract, columns: FollowUpColumns, min_conversion: float
) -> str:
    """Why a month's A leads converted below the promise, where the data show it:
    lead quality (A leads worked within the loosest A promise still convert below it) or
    follow-up (those convert fine, but too many A leads were worked late or never)."""
    hours = contact_hours(a_leads, contract, columns)
    promises = contract.follow_up.promises.get("A", ())
    if hours is None:
        return "cannot tell lead quality from follow-up: " + need(SECTION, "first_contact")[
            "message"
        ].replace(SECTION + " needs", "needs")
    within = max((p.within_business_hours for p in promises), default=np.inf)
    worked = (hours <= within).to_numpy()
    won = a_leads[fields.CONVERTED].astype(bool).to_numpy()
    if not worked.any():
        return "follow-up: no A lead was worked in time"
    conversion, low, high = worked_conversion(won, worked)
    when = "within the promise" if np.isfinite(within) else "at all"
    worked_text = (
        f"{worked.sum():,} A leads worked {when} converted {pct(conversion, 0)} "
        f"(95 % interval {pct(low, 0)}-{pct(high, 0)})"
    )
    if conversion < min_conversion:
        return f"lead quality: {worked_text}, below the promise of {pct(min_conversion, 0)}"
    return (
        f"follow-up: {worked_text}, at or above the promise, but {pct(1 - worked.mean(), 0)} of "
        f"A leads were worked late or never"
    )


def worked_conversion(won: np.ndarray, worked: np.ndarray) -> tuple[float, float, float]:
    figures = conversion_figures(int(won[worked].sum()), int(worked.sum()))
    return figures["conversion"], figures["conversion_ci_low"], figures["conversion_ci_high"]


def _hours(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def cost_lines(cost: dict) -> list[str]:
    """The A-lead comparison as a markdown table, and the cost in one sentence."""
    lines = [
        "| A leads first contacted | leads | converted (95 % interval) |",
        "|---|---|---|",
    ]
    for name in (PROMPT, LATE, NEVER):
        row = cost["groups"][name]
        label = f"{name} ({cost['within_business_hours']:g} business hours)"
        label = label if name == PROMPT else name
        lines.append(
            f"| {label} | {row['leads']:,} | {pct(row['conversion'])} "
            f"({pct(row['conversion_ci_low'])}-{pct(row['conversion_ci_high'])}) |"
        )
    if cost["deals_lost"] is not None:
        lines.append(
            f"\nSlow follow-up cost about **{cost['deals_lost']:.1f} deals** and "
            f"**{money(cost['revenue_lost'])}** in revenue: the {cost['slow_leads']:,} A leads "
            "worked late or never, had they converted like those worked within the promise "
            "(an upper bound if sales works the better leads first)."
        )
    return lines


def render_markdown(report: dict) -> str:
    """`reports/follow_up.md`: sales' promises, what was kept, and what slow follow-up cost."""
    lines = ["# Sales follow-up: promises vs the test period", ""]
    lines += [f"> {item['message']}" for item in report.get("missing", [])]
    if not report["months"]:
        return "\n".join(lines) + "\n"
    day = report["business_hours"]
    lines += [
        "",
        f"Business hours: Monday to Friday, {day['start_hour']}:00-{day['end_hour']}:00.",
        "",
        "| grade | promise | achieved (95 % interval) | leads | verdict |",
        "|---|---|---|---|---|",
    ]
    for grade, items in report["promises"].items():
        for item in items:
            lines.append(
                f"| {grade} | {item['label']} | {pct(item['share'])} "
                f"({pct(item['share_ci_low'])}-{pct(item['share_ci_high'])}) "
                f"| {item['leads']:,} | {item['verdict']} |"
            )
    lines += ["", *[f"- **{g}**: {i['note']}" for g, v in report["promises"].items() for i in v]]
    lines += [
        "",
        "## Month by month",
        "",
        "| month | grade | leads | within promise | median business hours to contact "
        "| never worked |",
        "|---|---|---|---|---|---|",
    ]
    for month in report["months"]:
        for grade, row in month["grades"].items():
            within = ", ".join(pct(v) for v in row["within_promise"]) or "-"
            lines.append(
                f"| {month['month']} | {grade} | {row['leads']:,} | {within} "
                f"| {_hours(row['median_hours_to_contact'])} | {pct(row['never_worked_share'])} |"
            )
    if report.get("a_cost"):
        lines += ["", "## What slow follow-up of A leads cost", "", *cost_lines(report["a_cost"])]
    return "\n".join(lines) + "\n"
