"""Funnel planner: channel economics, and the funnel run backwards from a revenue target.

Per channel on the test period: leads, cost, A-lead share, conversion, cost per A lead, cost per
won deal, revenue per unit of cost. Backwards from a target: deals needed (average deal value),
A leads needed (A-grade conversion), leads needed per channel under the current mix and under
the efficient mix, and the reach needed when a response rate is given.
"""

from __future__ import annotations

import logging
import math

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import FunnelParams

log = logging.getLogger(__name__)


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None (shown as "-") when there is nothing to divide by."""
    return float(numerator / denominator) if denominator else None


def channel_economics(scored: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """One row per channel: volume, cost, A leads, conversions, revenue and the ratios."""
    won = scored[fields.CONVERTED].astype(bool)
    frame = scored.assign(
        _a=scored["grade"] == "A",
        _won=won,
        _revenue=scored[fields.DEAL_VALUE].where(won, 0.0).fillna(0.0),
    )
    table = frame.groupby(fields.CHANNEL, observed=True).agg(
        leads=(fields.LEAD_ID, "size"),
        a_leads=("_a", "sum"),
        won_deals=("_won", "sum"),
        revenue=("_revenue", "sum"),
    )
    cost_per_lead = costs.set_index(fields.CHANNEL)["cost_per_lead"]
    table["cost_per_lead"] = cost_per_lead.reindex(table.index)
    table["cost"] = table["leads"] * table["cost_per_lead"]
    table["a_share"] = table["a_leads"] / table["leads"]
    table["conversion"] = table["won_deals"] / table["leads"]
    for name, numerator, denominator in (
        ("cost_per_a_lead", "cost", "a_leads"),
        ("cost_per_won_deal", "cost", "won_deals"),
        ("revenue_per_cost", "revenue", "cost"),
    ):
        table[name] = [
            _ratio(n, d) if pd.notna(n) and pd.notna(d) else None
            for n, d in zip(table[numerator], table[denominator], strict=True)
        ]
    return table.reset_index()


def efficient_mix(economics: pd.DataFrame) -> pd.Series:
    """Lead mix that buys the most A leads per cost without betting on a single channel.

    Keeps the channels whose cost per A lead is at or below the all-channel figure and
    reweights them by their current volume (a channel cannot grow without limit); channels
    without a known cost are left out.
    """
    known = economics.dropna(subset=["cost_per_a_lead"])
    overall = known["cost"].sum() / max(known["a_leads"].sum(), 1)
    keep = known[known["cost_per_a_lead"] <= overall]
    return (keep.set_index(fields.CHANNEL)["leads"] / keep["leads"].sum()).rename("mix")


def plan_for_mix(mix: pd.Series, economics: pd.DataFrame, a_leads_needed: int) -> dict:
    """Leads, cost and reach per channel to get `a_leads_needed` A leads with this mix."""
    rows = economics.set_index(fields.CHANNEL).loc[mix.index]
    a_per_lead = float((mix * rows["a_share"]).sum())
    total_leads = math.ceil(a_leads_needed / a_per_lead) if a_per_lead else None
    channels = {}
    for channel, share in mix.items():
        leads = None if total_leads is None else math.ceil(total_leads * share)
        cost_per_lead = rows.loc[channel, "cost_per_lead"]
        channels[str(channel)] = {
            "mix": float(share),
            "leads": leads,
            "cost": None
            if leads is None or pd.isna(cost_per_lead)
            else float(leads * cost_per_lead),
        }
    costs = [c["cost"] for c in channels.values()]
    return {
        "leads": total_leads,
        "cost": None if None in costs else float(sum(costs)),
        "channels": channels,
    }


def plan_backwards(
    scored: pd.DataFrame, economics: pd.DataFrame, revenue_target: float, response_rate=None
) -> dict:
    """Deals, A leads, leads per channel (current and efficient mix) and reach for a target."""
    won = scored[scored[fields.CONVERTED].astype(bool)]
    average_deal = float(won[fields.DEAL_VALUE].mean())
    a_leads = scored[scored["grade"] == "A"]
    a_conversion = float(a_leads[fields.CONVERTED].mean()) if len(a_leads) else 0.0
    deals_needed = math.ceil(revenue_target / average_deal)
    a_needed = math.ceil(deals_needed / a_conversion) if a_conversion else None
    current = (economics.set_index(fields.CHANNEL)["leads"] / economics["leads"].sum()).rename(
        "mix"
    )
    plans = {}
    if a_needed is not None:
        plans = {
            "current_mix": plan_for_mix(current, economics, a_needed),
            "efficient_mix": plan_for_mix(efficient_mix(economics), economics, a_needed),
        }
        if response_rate:
            for plan in plans.values():
                plan["reach"] = (
                    None if plan["leads"] is None else math.ceil(plan["leads"] / response_rate)
                )
                for channel in plan["channels"].values():
                    channel["reach"] = (
                        None
                        if channel["leads"] is None
                        else math.ceil(channel["leads"] / response_rate)
                    )
    return {
        "revenue_target": revenue_target,
        "average_deal_value": average_deal,
        "deals_needed": deals_needed,
        "a_grade_conversion": a_conversion,
        "a_leads_needed": a_needed,
        "response_rate": response_rate,
        "plans": plans,
    }


def funnel_report(scored: pd.DataFrame, costs: pd.DataFrame, params: FunnelParams) -> dict:
    economics = channel_economics(scored, costs)
    missing = economics.loc[economics["cost_per_lead"].isna(), fields.CHANNEL].tolist()
    return {
        "channels": {
            str(row[fields.CHANNEL]): {
                k: (None if pd.isna(v) else (float(v) if not isinstance(v, str) else v))
                for k, v in row.items()
                if k != fields.CHANNEL
            }
            for row in economics.to_dict("records")
        },
        "channels_without_cost": missing,
        "plan": plan_backwards(scored, economics, params.revenue_target, params.response_rate),
    }


def _money(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render_markdown(report: dict) -> str:
    plan = report["plan"]
    lines = [
        "# Channel economics and the funnel plan (test period)",
        "",
        "| channel | leads | cost | A share | conversion | cost per A lead | cost per won deal "
        "| revenue per cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(
        report["channels"].items(), key=lambda item: item[1]["cost_per_a_lead"] or math.inf
    ):
        per_cost = "-" if row["revenue_per_cost"] is None else f"{row['revenue_per_cost']:.1f}"
        lines.append(
            f"| {name} | {row['leads']:,.0f} | {_money(row['cost'])} | {row['a_share']:.1%} "
            f"| {row['conversion']:.1%} | {_money(row['cost_per_a_lead'])} "
            f"| {_money(row['cost_per_won_deal'])} | {per_cost} |"
        )
    if report["channels_without_cost"]:
        lines.append(f"\nNo cost known for: {', '.join(report['channels_without_cost'])}.")
    lines += [
        "",
        f"## Backwards from a revenue target of {_money(plan['revenue_target'])}",
        "",
        f"- Average deal value {_money(plan['average_deal_value'])}: "
        f"**{plan['deals_needed']:,} deals** needed.",
        f"- A leads convert at {plan['a_grade_conversion']:.1%}: "
        f"**{_money(plan['a_leads_needed'])} A leads** needed.",
    ]
    for name, mix in plan["plans"].items():
        reach = f", reach {_money(mix['reach'])}" if "reach" in mix else ""
        lines.append(
            f"- {name.replace('_', ' ')}: {_money(mix['leads'])} leads, cost "
            f"{_money(mix['cost'])}{reach} ("
            + ", ".join(f"{c} {_money(v['leads'])}" for c, v in mix["channels"].items())
            + ")"
        )
    lines.append(
        "\nThe efficient mix keeps the channels whose cost per A lead is at or below the "
        "all-channel figure, in their current proportions."
    )
    return "\n".join(lines) + "\n"
