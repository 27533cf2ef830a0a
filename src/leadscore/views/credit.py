"""Marketing's credit: what marketing delivered and sales won, per month, channel and campaign.

The shared scorecard both departments can be paid on. Per month, channel and campaign: A leads
delivered, A leads sales worked (first contacted at all), A leads won, their won revenue and the
cost per won A deal (the marketing cost of every lead the campaign delivered, divided by its won
A deals); the same for all grades. It reconciles exactly with the contract view: the sums over
all rows equal the contract's leads, conversions, A leads and A conversions (`reconciliation`).
Written as `reports/credit.csv` for the comp team, and as JSON and markdown.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.data_params import (
    GENERATOR_ECONOMICS,
    GENERATOR_FOLLOW_UP,
    EconomicsColumns,
    FollowUpColumns,
)
from leadscore.views.format import count, money
from leadscore.views.funnel import ALL_LEADS, NOT_GIVEN, lead_costs, present
from leadscore.views.needs import need

log = logging.getLogger(__name__)

SECTION = "Marketing's credit"
UNDATED = "(undated)"
KEYS = ("month", "channel", "campaign")
COUNTS = ("leads", "worked", "won", "a_leads", "a_worked", "a_won")
SUMS = ("cost", "won_revenue", "a_won_revenue")
# the credit table's totals -> the contract view's figures they must equal
RECONCILED = {
    "leads": ("leads",),
    "won": ("conversions",),
    "a_leads": ("grades", "A", "leads"),
    "a_won": ("grades", "A", "conversions"),
}


def _group(scored: pd.DataFrame, column: str | None, default: str) -> pd.Series:
    if column is None:
        return pd.Series(default, index=scored.index)
    return scored[column].astype(object).where(scored[column].notna(), NOT_GIVEN).astype(str)


def lead_facts(
    scored: pd.DataFrame,
    costs: pd.DataFrame,
    economics: EconomicsColumns,
    follow_up: FollowUpColumns,
) -> pd.DataFrame:
    """One row per lead: its month, channel, campaign and what it counts toward."""
    channel, campaign = present(scored, economics.channel), present(scored, economics.campaign)
    dated = fields.CREATED_AT in scored and scored[fields.CREATED_AT].notna().any()
    month = (
        pd.to_datetime(scored[fields.CREATED_AT]).dt.to_period("M").astype(str)
        if dated
        else pd.Series(UNDATED, index=scored.index)
    )
    won = scored[fields.CONVERTED].astype(bool)
    a = scored["grade"] == "A"
    contact = follow_up.first_contact
    worked = scored[contact].notna() if contact and contact in scored else None
    value = present(scored, economics.deal_value)
    revenue = (
        pd.to_numeric(scored[value], errors="coerce").where(won, 0.0).fillna(0.0)
        if value
        else pd.Series(np.nan, index=scored.index)
    )
    cost, _ = lead_costs(scored, costs, economics)
    nothing = pd.Series(np.nan, index=scored.index)
    return pd.DataFrame(
        {
            "month": month,
            "channel": _group(scored, channel, ALL_LEADS),
            "campaign": _group(scored, campaign, NOT_GIVEN),
            "leads": 1,
            "worked": nothing if worked is None else worked.astype(float),
            "won": won.astype(int),
            "a_leads": a.astype(int),
            "a_worked": nothing if worked is None else (worked & a).astype(float),
            "a_won": (won & a).astype(int),
            "cost": nothing if cost is None else cost,
            "won_revenue": revenue,
            "a_won_revenue": revenue.where(a, 0.0),
        }
    )


def with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Cost per won deal and per won A deal (missing where nothing was won or cost unknown)."""
    table = table.copy()
    for name, won in (("cost_per_won_deal", "won"), ("cost_per_won_a_deal", "a_won")):
        table[name] = (table["cost"] / table[won].where(table[won] > 0)).round(2)
    return table


def credit_table(facts: pd.DataFrame) -> pd.DataFrame:
    """Per month, channel and campaign: the counts, sums and ratios (the CSV's rows)."""
    grouped = facts.groupby(list(KEYS), sort=True)
    table = grouped[list(COUNTS)].sum(min_count=1)
    table[list(SUMS)] = grouped[list(SUMS)].sum(min_count=1)
    table = table.reset_index()
    for name in COUNTS:
        if table[name].notna().all():
            table[name] = table[name].astype(int)
    return with_ratios(table)


def totals(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """The table summed over everything but `by` (e.g. per month, or per channel)."""
    if by:
        summed = table.groupby(by, sort=True)[list(COUNTS + SUMS)].sum(min_count=1).reset_index()
    else:
        summed = table[list(COUNTS + SUMS)].sum(min_count=1).to_frame().T
    return with_ratios(summed)


def _lookup(contract: dict, path: tuple[str, ...]):
    value = contract
    for key in path:
        value = value[key]
    return value


def reconcile(table: pd.DataFrame, contract: dict) -> dict:
    """Each total of the credit table beside the contract view's figure: they must be equal."""
    checks = {}
    for name, path in RECONCILED.items():
        ours, theirs = int(table[name].sum()), int(_lookup(contract, path))
        checks[name] = {"credit": ours, "contract": theirs, "equal": ours == theirs}
    return {"reconciled": all(c["equal"] for c in checks.values()), "checks": checks}


def _records(table: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in table.astype(object).to_dict("records")
    ]


def credit_report(
    scored: pd.DataFrame,
    costs: pd.DataFrame,
    contract: dict,
    economics: EconomicsColumns = GENERATOR_ECONOMICS,
    follow_up: FollowUpColumns = GENERATOR_FOLLOW_UP,
) -> tuple[dict, pd.DataFrame]:
    """The credit report (JSON) and the table (CSV rows)."""
    facts = lead_facts(scored, costs, economics, follow_up)
    table = credit_table(facts)
    missing = []
    if present(scored, economics.channel) is None:
        missing.append(need(SECTION, "channel"))
    if facts["cost"].isna().all():
        missing.append(need("The cost per won deal", "cost"))
    if present(scored, economics.deal_value) is None:
        missing.append(need("Won revenue", "deal_value"))
    if facts["worked"].isna().all():
        missing.append(need("A leads worked", "first_contact"))
    if facts["month"].eq(UNDATED).all():
        missing.append(need("Credit by month", "dates"))
    all_totals = _records(totals(table))[0]
    report = {
        "cost_rule": "marketing cost of every lead delivered / won deals (A: won A deals)",
        "totals": all_totals,
        "months": _records(totals(table, ["month"])),
        "channels": _records(totals(table, ["channel"])),
        "month_channels": _records(totals(table, ["month", "channel"])),
        "reconciliation": reconcile(table, contract),
        "missing": missing,
    }
    return report, table


def month_lines(report: dict, table: pd.DataFrame, month: str) -> list[str]:
    """One month of the credit table per channel, as markdown, with its total."""
    part = totals(table[table["month"] == month], ["channel"])
    header = (
        "| channel | A delivered | A worked | A won | A won revenue | cost per won A deal "
        "| leads | worked | won | won revenue | cost per won deal |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = _records(part) + [{"channel": "**total**", **_records(totals(part))[0]}]
    for row in rows:
        lines.append(
            f"| {row['channel']} | {count(row['a_leads'])} | {count(row['a_worked'])} "
            f"| {count(row['a_won'])} | {money(row['a_won_revenue'])} "
            f"| {money(row['cost_per_won_a_deal'])} | {count(row['leads'])} "
            f"| {count(row['worked'])} | {count(row['won'])} | {money(row['won_revenue'])} "
            f"| {money(row['cost_per_won_deal'])} |"
        )
    return lines


def reconciliation_lines(report: dict) -> list[str]:
    rec = report["reconciliation"]
    lines = [
        f"Reconciliation with the contract view: **{'exact' if rec['reconciled'] else 'FAILED'}**",
        "",
        "| figure | credit (sum over months, channels, campaigns) | contract view | equal |",
        "|---|---|---|---|",
    ]
    for name, item in rec["checks"].items():
        lines.append(
            f"| {name} | {item['credit']:,} | {item['contract']:,} "
            f"| {'yes' if item['equal'] else 'NO'} |"
        )
    return lines


def render_markdown(report: dict, table: pd.DataFrame) -> str:
    """`reports/credit.md`: each month by channel (the CSV has campaigns), and the totals."""
    lines = ["# Marketing's credit: what marketing delivered and sales won (test period)", ""]
    lines += [f"> {item['message']}" for item in report.get("missing", [])]
    lines += [""] if report.get("missing") else []
    lines += [f"Cost per won deal = {report['cost_rule']}.", ""]
    for month in sorted(table["month"].unique()):
        lines += [f"## {month}", "", *month_lines(report, table, month), ""]
    lines += reconciliation_lines(report)
    return "\n".join(lines) + "\n"
