"""Funnel planner: channel economics, and the funnel run backwards from a revenue target.

Per channel on the test period: leads, cost, A-lead share, conversion, cost per A lead, cost per
won deal, revenue per unit of cost (and the same per campaign when the data name one). Backwards
from a target: deals needed (average deal value), A leads needed (A-grade conversion), leads
needed per channel under the current mix and under the efficient mix, and the reach needed when
a response rate is given.

Costs come from each lead's marketing cost when the export has one (`data.cost_column`), else
from the channel cost table (the built-in generator's). Whatever the data lack (channel, costs,
deal value) is left out and named, with the configuration key that provides it.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.config import FunnelParams
from leadscore.core.data_params import GENERATOR_ECONOMICS, EconomicsColumns
from leadscore.views.format import money, pct
from leadscore.views.needs import need

log = logging.getLogger(__name__)

ALL_LEADS = "all leads"  # the one group when the data name no channel
NOT_GIVEN = "(not given)"  # leads whose channel or campaign is missing


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None (shown as "-") when there is nothing to divide by."""
    return float(numerator / denominator) if denominator else None


def present(scored: pd.DataFrame, column: str | None) -> str | None:
    """The column if the scored leads have it with at least one value, else None."""
    return column if column and column in scored and scored[column].notna().any() else None


def lead_costs(
    scored: pd.DataFrame, costs: pd.DataFrame, columns: EconomicsColumns
) -> tuple[pd.Series | None, str | None]:
    """Marketing cost per lead and where it came from: the export's per-lead cost, else the
    channel cost table by the lead's channel, else (None, None)."""
    if lead_cost := present(scored, columns.lead_cost):
        return pd.to_numeric(scored[lead_cost], errors="coerce"), "per-lead cost (data.cost_column)"
    channel = present(scored, columns.channel)
    if channel and len(costs):
        per_channel = costs.set_index(fields.CHANNEL)["cost_per_lead"]
        return scored[channel].astype(object).map(per_channel).astype(float), "channel cost table"
    return None, None


def economics_by(
    scored: pd.DataFrame, group: pd.Series, cost: pd.Series | None, deal_value: str | None
) -> pd.DataFrame:
    """One row per group: volume, cost, A leads, conversions, revenue and the ratios."""
    won = scored[fields.CONVERTED].astype(bool)
    nothing = pd.Series(np.nan, index=scored.index)
    revenue = (
        pd.to_numeric(scored[deal_value], errors="coerce").where(won, 0.0).fillna(0.0)
        if deal_value
        else nothing
    )
    if group.isna().any():
        group = group.astype(object).fillna(NOT_GIVEN)
    frame = pd.DataFrame(
        {
            "_a": (scored["grade"] == "A").to_numpy(),
            "_won": won.to_numpy(),
            "_revenue": revenue.to_numpy(),
            "_cost": (nothing if cost is None else cost).to_numpy(),
        },
        index=scored.index,
    )
    grouped = frame.groupby(group.rename(fields.CHANNEL), observed=True)
    table = pd.DataFrame(
        {
            "leads": grouped.size(),
            "a_leads": grouped["_a"].sum(),
            "won_deals": grouped["_won"].sum(),
            "revenue": grouped["_revenue"].sum(min_count=1),
            "cost": grouped["_cost"].sum(min_count=1),
        }
    )
    table["cost_per_lead"] = table["cost"] / table["leads"]
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


def channel_economics(
    scored: pd.DataFrame, costs: pd.DataFrame, columns: EconomicsColumns = GENERATOR_ECONOMICS
) -> pd.DataFrame:
    """Economics per channel (one `all leads` row when the data name no channel)."""
    channel = present(scored, columns.channel)
    group = scored[channel] if channel else pd.Series(ALL_LEADS, index=scored.index)
    cost, _ = lead_costs(scored, costs, columns)
    return economics_by(scored, group, cost, present(scored, columns.deal_value))


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
    costs = [c["cost"] for c in channels.values() if c["cost"] is not None]
    return {
        "leads": total_leads,
        "cost": float(sum(costs)) if len(costs) == len(channels) else None,
        "channels": channels,
    }


def plan_backwards(
    scored: pd.DataFrame,
    economics: pd.DataFrame,
    revenue_target: float,
    response_rate=None,
    deal_value: str | None = fields.DEAL_VALUE,
) -> dict:
    """Deals, A leads, leads per channel (current and efficient mix) and reach for a target.

    Without deal values (or without a won deal that has one) the plan stops at what it can say.
    """
    won = scored[scored[fields.CONVERTED].astype(bool)]
    values = pd.to_numeric(won[deal_value], errors="coerce").dropna() if deal_value else None
    average_deal = float(values.mean()) if values is not None and len(values) else None
    a_leads = scored[scored["grade"] == "A"]
    a_conversion = float(a_leads[fields.CONVERTED].mean()) if len(a_leads) else 0.0
    deals_needed = math.ceil(revenue_target / average_deal) if average_deal else None
    a_needed = math.ceil(deals_needed / a_conversion) if deals_needed and a_conversion else None
    current = (economics.set_index(fields.CHANNEL)["leads"] / economics["leads"].sum()).rename(
        "mix"
    )
    plans = {}
    if a_needed is not None:
        plans = {"current_mix": plan_for_mix(current, economics, a_needed)}
        if len(economics) > 1 and economics["cost_per_a_lead"].notna().any():
            plans["efficient_mix"] = plan_for_mix(efficient_mix(economics), economics, a_needed)
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


def _records(economics: pd.DataFrame) -> dict[str, dict]:
    return {
        str(row[fields.CHANNEL]): {
            k: (None if pd.isna(v) else (float(v) if not isinstance(v, str) else v))
            for k, v in row.items()
            if k != fields.CHANNEL
        }
        for row in economics.to_dict("records")
    }


def funnel_report(
    scored: pd.DataFrame,
    costs: pd.DataFrame,
    params: FunnelParams,
    columns: EconomicsColumns = GENERATOR_ECONOMICS,
) -> dict:
    """Channel (and campaign) economics and the plan; `missing` names what the data lack."""
    channel, campaign = present(scored, columns.channel), present(scored, columns.campaign)
    deal_value = present(scored, columns.deal_value)
    cost, cost_source = lead_costs(scored, costs, columns)
    missing = []
    if channel is None:
        missing.append(need("Channel economics", "channel"))
    if cost is None:
        missing.append(need("Each channel's cost", "cost"))
    if deal_value is None:
        missing.append(need("The revenue plan", "deal_value"))
    economics = channel_economics(scored, costs, columns)
    report = {
        "channels": _records(economics),
        "channels_without_cost": []
        if cost is None
        else economics.loc[economics["cost"].isna(), fields.CHANNEL].astype(str).tolist(),
        "cost_source": cost_source,
        "missing": missing,
        "plan": plan_backwards(
            scored, economics, params.revenue_target, params.response_rate, deal_value
        ),
    }
    if campaign:
        report["campaigns"] = _records(economics_by(scored, scored[campaign], cost, deal_value))
    return report


def _table(rows: dict[str, dict], first: str) -> list[str]:
    """Economics rows as a markdown table, cheapest A lead first."""
    lines = [
        f"| {first} | leads | cost | A share | conversion | cost per A lead | cost per won deal "
        "| revenue per cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(rows.items(), key=lambda item: item[1]["cost_per_a_lead"] or math.inf):
        per_cost = "-" if row["revenue_per_cost"] is None else f"{row['revenue_per_cost']:.1f}"
        lines.append(
            f"| {name} | {row['leads']:,.0f} | {money(row['cost'])} | {pct(row['a_share'])} "
            f"| {pct(row['conversion'])} | {money(row['cost_per_a_lead'])} "
            f"| {money(row['cost_per_won_deal'])} | {per_cost} |"
        )
    return lines


def plan_gap(report: dict) -> str | None:
    """Why the plan has no figures (no deal values), or None when it has them."""
    if report["plan"]["deals_needed"] is not None:
        return None
    value_needed = [m for m in report.get("missing", []) if m["missing"] == "deal_value"]
    return (
        value_needed[0]["message"]
        if value_needed
        else "No won deal of the test period has a value: the plan needs an average deal."
    )


def plan_summary(report: dict) -> str:
    """One line: the deals and A leads a revenue target needs, or why the plan cannot say."""
    plan = report["plan"]
    target = money(plan["revenue_target"])
    gap = plan_gap(report)
    if gap is not None:
        return f"no plan for a target of {target}: {gap}"
    a_leads = plan["a_leads_needed"]
    a_text = (
        f"{a_leads:,} A leads"
        if a_leads is not None
        else "A leads unknown (no lead was graded A in the test period)"
    )
    return f"{plan['deals_needed']:,} deals, {a_text} for a target of {target}"


def _plan_lines(report: dict) -> list[str]:
    """The plan backwards from the revenue target, or what it needs."""
    plan = report["plan"]
    gap = plan_gap(report)
    if gap is not None:
        return [gap]
    lines = [
        f"- Average deal value {money(plan['average_deal_value'])}: "
        f"**{plan['deals_needed']:,} deals** needed.",
        f"- A leads convert at {pct(plan['a_grade_conversion'])}: "
        f"**{money(plan['a_leads_needed'])} A leads** needed.",
    ]
    for name, mix in plan["plans"].items():
        reach = f", reach {money(mix['reach'])}" if "reach" in mix else ""
        lines.append(
            f"- {name.replace('_', ' ')}: {money(mix['leads'])} leads, cost "
            f"{money(mix['cost'])}{reach} ("
            + ", ".join(f"{c} {money(v['leads'])}" for c, v in mix["channels"].items())
            + ")"
        )
    if "efficient_mix" in plan["plans"]:
        lines.append(
            "\nThe efficient mix keeps the channels whose cost per A lead is at or below the "
            "all-channel figure, in their current proportions."
        )
    return lines


def render_markdown(report: dict) -> str:
    lines = ["# Channel economics and the funnel plan (test period)", ""]
    lines += [f"> {item['message']}" for item in report.get("missing", [])]
    lines += [""] if report.get("missing") else []
    lines += _table(report["channels"], "channel")
    if report["channels_without_cost"]:
        lines.append(f"\nNo cost known for: {', '.join(report['channels_without_cost'])}.")
    if report.get("cost_source"):
        lines.append(f"\nCosts from the {report['cost_source']}.")
    target = money(report["plan"]["revenue_target"])
    lines += ["", f"## Backwards from a revenue target of {target}", "", *_plan_lines(report)]
    if report.get("campaigns"):
        lines += ["", "## Campaigns", "", *_table(report["campaigns"], "campaign")]
    return "\n".join(lines) + "\n"
