"""Align stage: marketing's profile, sales' profile and the model's A grade, side by side.

On the test period: each view's volume, conversion, lift and share of conversions captured;
the 2x2 agreement table of the two profiles; and which lead elements actually produce customers,
in plain sentences. Writes `reports/align.json` (DVC metrics) and `reports/align.md`.
"""

from __future__ import annotations

import logging

import pandas as pd

from leadscore.core import fields
from leadscore.core.contract import Contract
from leadscore.data.profiles import fitting_mask, profile_gaps
from leadscore.views.format import pct

log = logging.getLogger(__name__)

MIN_GROUP_LEADS = 100  # a value needs this many leads before its conversion is quoted
NUMERIC_BANDS = 4


def view_figures(converted: pd.Series, mask: pd.Series) -> dict:
    """Volume, conversion, lift over the base rate and share of conversions of one view."""
    base_rate = float(converted.mean())
    leads, conversions = int(mask.sum()), int(converted[mask].sum())
    conversion = conversions / leads if leads else None
    return {
        "leads": leads,
        "share_of_leads": leads / len(converted) if len(converted) else 0.0,
        "conversions": conversions,
        "conversion": conversion,
        "lift": conversion / base_rate if conversion is not None and base_rate else None,
        "share_of_conversions": conversions / converted.sum() if converted.sum() else 0.0,
    }


def views(scored: pd.DataFrame, contract: Contract) -> tuple[dict[str, pd.Series], dict]:
    """Masks and figures of marketing's profile, sales' profile and the model's A grade."""
    masks = {
        "marketing": fitting_mask(scored, contract.profiles.marketing),
        "sales": fitting_mask(scored, contract.profiles.sales),
        "model_A": scored["grade"] == "A",
    }
    converted = scored[fields.CONVERTED].astype(int)
    return masks, {name: view_figures(converted, mask) for name, mask in masks.items()}


def agreement_table(scored: pd.DataFrame, masks: dict[str, pd.Series]) -> dict[str, dict]:
    """The 2x2 of marketing vs sales profile: volume, conversion and A-grade share per cell."""
    marketing, sales = masks["marketing"], masks["sales"]
    cells = {
        "both": marketing & sales,
        "only_marketing": marketing & ~sales,
        "only_sales": ~marketing & sales,
        "neither": ~marketing & ~sales,
    }
    converted = scored[fields.CONVERTED].astype(int)
    table = {}
    for name, cell in cells.items():
        leads = int(cell.sum())
        table[name] = {
            "leads": leads,
            "conversion": float(converted[cell].mean()) if leads else None,
            "share_of_conversions": float(converted[cell].sum() / max(converted.sum(), 1)),
            "a_grade_share": float(masks["model_A"][cell].mean()) if leads else None,
        }
    return table


def value_groups(values: pd.Series) -> pd.Series:
    """Group labels for conversion-by-value: categories as they are, numbers in quantile bands."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "yes", False: "no"}).astype(object).fillna("missing")
    if pd.api.types.is_numeric_dtype(values):
        bands = pd.qcut(values, NUMERIC_BANDS, duplicates="drop")
        low = values.groupby(bands, observed=True).min()
        high = values.groupby(bands, observed=True).max()
        names = {
            band: f"{low[band]:g}"
            if low[band] == high[band]
            else f"{low[band]:g} to {high[band]:g}"
            for band in low.index
        }
        return bands.astype(object).map(names).fillna("missing")
    return values.astype(object).fillna("missing")


def conversion_by_value(
    scored: pd.DataFrame, field: str, min_leads: int = MIN_GROUP_LEADS
) -> pd.DataFrame:
    """Leads and conversion per value (or band) of one field, groups with enough leads only."""
    groups = value_groups(scored[field])
    table = (
        scored.assign(_group=groups)
        .groupby("_group", observed=True)[fields.CONVERTED]
        .agg(leads="size", conversion="mean")
        .reset_index()
        .rename(columns={"_group": "value"})
    )
    return table[table["leads"] >= min_leads].sort_values("conversion", ascending=False)


def driver_sentence(field: str, table: pd.DataFrame, scored: pd.DataFrame) -> str:
    """'Leads with <field> <best value> converted at X % vs Y % for the rest.'"""
    best = table.iloc[0]
    in_best = value_groups(scored[field]) == best["value"]
    rest = scored.loc[~in_best, fields.CONVERTED].mean()
    return (
        f"Leads with {field.replace('_', ' ')} {best['value']} converted at "
        f"{pct(best['conversion'], 0)} vs {pct(rest, 0)} for the rest "
        f"({int(best['leads']):,} leads); lowest: {table.iloc[-1]['value']} at "
        f"{pct(table.iloc[-1]['conversion'], 0)}."
    )


def lead_elements(
    scored: pd.DataFrame, candidates: list[str], top: int = 6, min_leads: int = MIN_GROUP_LEADS
) -> list[dict]:
    """The fields whose values move conversion most, with conversion by value and a sentence."""
    found = []
    for field in candidates:
        table = conversion_by_value(scored, field, min_leads)
        if len(table) < 2:
            continue
        spread = float(table["conversion"].max() - table["conversion"].min())
        found.append((spread, field, table))
    found.sort(key=lambda item: -item[0])
    return [
        {
            "field": field,
            "spread": spread,
            "by_value": [
                {"value": str(r.value), "leads": int(r.leads), "conversion": float(r.conversion)}
                for r in table.itertuples()
            ],
            "sentence": driver_sentence(field, table, scored),
        }
        for spread, field, table in found[:top]
    ]


def align_report(scored: pd.DataFrame, contract: Contract, candidates: list[str]) -> dict:
    masks, side_by_side = views(scored, contract)
    return {
        "base_rate": float(scored[fields.CONVERTED].mean()),
        "leads": int(len(scored)),
        "profiles": {
            "marketing": contract.profiles.marketing.description,
            "sales": contract.profiles.sales.description,
        },
        "views": side_by_side,
        "agreement": agreement_table(scored, masks),
        "lead_elements": lead_elements(scored, candidates),
        "missing": profile_gaps(scored, contract.profiles),
    }


def render_markdown(report: dict) -> str:
    lines = [
        "# Marketing's profile, sales' profile and the model's A grade (test period)",
        "",
        f"{report['leads']:,} leads, base rate {pct(report['base_rate'])}.",
        f"Marketing: {report['profiles']['marketing']}. Sales: {report['profiles']['sales']}.",
        *[f"> {item['message']}" for item in report.get("missing", [])],
        "",
        "| view | leads | conversion | lift | share of conversions |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["views"].items():
        lift = "-" if row["lift"] is None else f"{row['lift']:.2f}x"
        lines.append(
            f"| {name.replace('_', ' ')} | {row['leads']:,} | {pct(row['conversion'])} "
            f"| {lift} | {pct(row['share_of_conversions'])} |"
        )
    lines += [
        "",
        "## Where the two profiles agree",
        "",
        "| cell | leads | conversion | share of conversions | graded A |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["agreement"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {row['leads']:,} | {pct(row['conversion'])} "
            f"| {pct(row['share_of_conversions'])} | {pct(row['a_grade_share'])} |"
        )
    lines += ["", "## What actually produces customers", ""]
    lines += [f"- {item['sentence']}" for item in report["lead_elements"]]
    return "\n".join(lines) + "\n"
