"""Drafting an export's configuration for `leadscore init` from its profiled files
(leadscore.data.profile): the id, the joins, the created date, the outcome, the economic
columns, the fields the leakage review will look at and split periods that hold the drafted
gate's minimum. Each choice carries its reason; what cannot be decided is a `Todo`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.data.leakage_evidence import name_cues
from leadscore.data.profile import (
    CAMPAIGN_NAME,
    CHANNEL_NAMES,
    COST_NAME,
    VALUE_NAME,
    WON_DATE_NAME,
    Draft,
    FileProfile,
    Outcome,
    Todo,
    created_of,
    currency_of,
    join_of,
    outcome_of,
    pick,
    placeholders,
    profile_file,
)
from leadscore.data.split_proposal import propose_periods


def id_column_of(leads: FileProfile) -> tuple[str | None, list[str], str]:
    """The drafted id column (unique, never empty, named like an id), every candidate (text
    first), and why."""
    ids = [c for c in leads.unique if c not in leads.numbers] + [
        c for c in leads.unique if c in leads.numbers
    ]
    named_ids = [c for c in ids if re.search(r"\bid\b|_id$|id$|number|key", c, re.I)]
    id_column = named_ids[0] if named_ids else None
    reason = (
        f"{id_column}: unique and never empty over {leads.rows:,} rows"
        + (f" (also unique: {', '.join(c for c in ids if c != id_column)})" if len(ids) > 1 else "")
        if id_column
        else "no column is unique and never empty: a stable id is made per row"
    )
    return id_column, ids, reason


def split_months_of(
    leads: pd.DataFrame, outcome: Outcome, created: str
) -> tuple[tuple[int, int] | None, str | None, Todo | None]:
    """Period lengths (valid, test months) that give each period the drafted gate's minimum,
    with why; or the to-do when none do."""
    found = propose_periods(decided_by_month(leads, outcome, created), GATE, GATE, 3, 3)
    if not found:
        return (
            None,
            None,
            Todo(
                "split",
                f"no period lengths give each period {GATE} converted leads: lower "
                "contract.publish_gate.min_positives, or split without dates "
                "(data.created_column: null)",
            ),
        )
    reason = (
        f"each period holds at least {GATE} converted and not converted leads "
        f"(converted/not converted: "
        + ", ".join(f"{k} {p:,}/{n:,}" for k, (p, n) in found[2].items())
        + ")"
    )
    return (found[0], found[1]), reason, None


def economics_of(
    profiles: list[FileProfile], id_column: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """The value and cost columns (numbers of any file), and the channel and campaign columns
    (of the leads file), by their names."""
    numbers = [c for p in profiles for c in p.numbers]
    value = pick(numbers, VALUE_NAME, avoid={id_column or ""})
    cost = pick(numbers, COST_NAME)
    channel = next(
        (c for pattern in CHANNEL_NAMES if (c := pick(profiles[0].columns, pattern))), None
    )
    return value, cost, channel, pick(profiles[0].columns, CAMPAIGN_NAME)


def draft(paths: list[Path]) -> Draft:
    """Profile the export files (the first is the leads table) and draft their configuration."""
    read = [profile_file(path) for path in paths]
    profiles, frames = [p for p, _ in read], [f for _, f in read]
    leads_profile, leads = profiles[0], frames[0]
    reasons: dict[str, str] = {}
    todos: list[Todo] = []
    id_column, ids, reasons["id_column"] = id_column_of(leads_profile)
    joins = []
    for profile, frame in zip(profiles[1:], frames[1:], strict=True):
        join, missing = join_of(leads, id_column, profile, frame)
        todos += missing
        if join:
            joins.append(join)
    created, reasons["created_column"] = created_of(leads_profile, leads)
    joined_columns = [c for p in profiles for c in p.columns]
    outcome_columns = [c for c in leads_profile.columns if c not in leads_profile.unique]
    outcome, missing, reasons["outcome"] = outcome_of(leads, outcome_columns)
    todos += missing
    if outcome.won and not outcome.lost:
        todos.append(
            Todo("data.outcome.lost_values", f"which values of {outcome.column} are lost?")
        )
    later_dates = [c for p in profiles[1:] for c in p.dates]
    outcome.won_date_column = pick(later_dates + leads_profile.dates, WON_DATE_NAME)
    value, cost, channel, campaign = economics_of(profiles, id_column)
    currency = currency_of(value, cost)
    if (value or cost) and not currency:
        todos.append(Todo("contract.currency", f"the currency of {value or cost} (drafted: USD)"))
    roles = {id_column, created, outcome.column, outcome.won_date_column, value, cost}
    leakage = {c: name_cues(c) for c in dict.fromkeys(joined_columns) if c not in roles}
    base_rate, months = rates(leads, outcome, created)
    split_months = None
    if created and outcome.column:
        split_months, split_reason, split_todo = split_months_of(leads, outcome, created)
        reasons |= {"split": split_reason} if split_reason else {}
        todos += [split_todo] if split_todo else []
    return Draft(
        files=profiles,
        joins=joins,
        id_column=id_column,
        id_candidates=ids,
        created_column=created,
        date_columns=[c for p in profiles for c in p.dates],
        outcome=outcome,
        value_column=value,
        cost_column=cost,
        channel_column=channel,
        campaign_column=campaign,
        currency=currency or "USD",
        missing_values=placeholders(frames),
        leakage_fields={c: cues for c, cues in leakage.items() if cues},
        base_rate=base_rate,
        months=months,
        split_months=split_months,
        reasons=reasons,
        todos=todos,
    )


GATE = 100  # the drafted contract's publish_gate.min_positives and min_negatives


def decided_by_month(leads: pd.DataFrame, outcome: Outcome, created: str) -> pd.DataFrame:
    """The decided leads' creation dates and outcomes, for the split's period proposal."""
    values = leads[outcome.column].str.strip()
    won = values.isin([str(v) for v in outcome.won + outcome.positive_values])
    decided = (won | values.isin(outcome.lost)) if outcome.won else values.notna()
    dates = pd.to_datetime(leads[created], errors="coerce", format="mixed")
    keep = decided & dates.notna()
    return pd.DataFrame({fields.CREATED_AT: dates[keep], fields.CONVERTED: won[keep]})


def rates(
    leads: pd.DataFrame, outcome: Outcome, created: str | None
) -> tuple[float | None, float | None]:
    """The share of decided leads won, and the months the export covers (for the drafts)."""
    base_rate = None
    if outcome.column:
        values = leads[outcome.column].dropna().str.strip()
        won = values.isin([str(v) for v in outcome.won + outcome.positive_values])
        decided = won | values.isin(outcome.lost) if outcome.won else values.notna()
        base_rate = float(won.sum() / decided.sum()) if decided.sum() else None
    months = None
    if created:
        dates = pd.to_datetime(leads[created], errors="coerce", format="mixed")
        span = (dates.max() - dates.min()).days if dates.notna().any() else 0
        months = max(1.0, span / 30.44) if not math.isnan(span) else None
    return base_rate, months
