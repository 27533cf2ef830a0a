"""Marketing's and sales' profiles of the ideal lead: declarative rules evaluated on lead tables.

A profile is a list of (field, op, value) rules from the contract, combined with all (AND) or
any (OR). Nothing is evaluated as code; unknown fields are an error that names the field. The
views use `fitting_mask`: a profile on fields the data lack fits no lead, and `profile_gaps`
says which fields, so a report still builds on an export the contract was not written for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.core.contract import LeadProfile, ProfileRule, Profiles


class ProfileError(ValueError):
    """A profile rule refers to a field the lead table does not have."""


def _as_value(series: pd.Series, value):
    """Compare booleans as booleans, numbers as numbers, the rest as text."""
    if pd.api.types.is_bool_dtype(series) or isinstance(value, bool):
        return value
    if pd.api.types.is_numeric_dtype(series) and isinstance(value, int | float):
        return value
    return str(value)


def rule_mask(leads: pd.DataFrame, rule: ProfileRule) -> pd.Series:
    """True where a lead satisfies one rule; a missing value satisfies only `missing`."""
    if rule.field not in leads.columns:
        raise ProfileError(f"profile rule on '{rule.field}': no such field in the lead table")
    column = leads[rule.field]
    present = column.notna()
    if rule.op == "missing":
        return ~present
    if rule.op == "present":
        return present
    if rule.op in ("in", "not_in"):
        values = [_as_value(column, v) for v in rule.value]
        inside = column.isin(values)
        mask = inside if rule.op == "in" else ~inside
    else:
        value = _as_value(column, rule.value)
        compare = {
            "eq": column.eq,
            "ne": column.ne,
            "gt": column.gt,
            "ge": column.ge,
            "lt": column.lt,
            "le": column.le,
        }[rule.op]
        mask = compare(value)
    return (mask.fillna(False).astype(bool)) & present


def profile_mask(leads: pd.DataFrame, profile: LeadProfile) -> pd.Series:
    """True where a lead fits the profile (all rules, or any rule, as the profile says)."""
    masks = np.column_stack([rule_mask(leads, rule).to_numpy(bool) for rule in profile.rules])
    combined = masks.all(axis=1) if profile.match == "all" else masks.any(axis=1)
    return pd.Series(combined, index=leads.index, name="fits_profile")


def missing_fields(leads: pd.DataFrame, profile: LeadProfile) -> list[str]:
    """Fields the profile's rules name that the lead table does not have."""
    return sorted({rule.field for rule in profile.rules if rule.field not in leads.columns})


def fitting_mask(leads: pd.DataFrame, profile: LeadProfile) -> pd.Series:
    """`profile_mask`, or no lead at all when the profile names fields the table lacks."""
    if missing_fields(leads, profile):
        return pd.Series(False, index=leads.index, name="fits_profile")
    return profile_mask(leads, profile)


def profile_gaps(leads: pd.DataFrame, profiles: Profiles) -> list[dict]:
    """For each side whose profile names fields the leads lack: which, and the key to fix."""
    gaps = []
    for side in ("marketing", "sales"):
        absent = missing_fields(leads, getattr(profiles, side))
        if absent:
            key = f"contract.profiles.{side}"
            gaps.append(
                {
                    "section": f"The {side} profile",
                    "missing": "fields",
                    "fields": absent,
                    "key": key,
                    "message": f"The {side} profile needs the field(s) {', '.join(absent)}, "
                    f"which the data lack (change {key}); it fits no lead here.",
                }
            )
    return gaps
