"""Marketing's and sales' profiles of the ideal lead: declarative rules evaluated on lead tables.

A profile is a list of (field, op, value) rules from the contract, combined with all (AND) or
any (OR). Nothing is evaluated as code; unknown fields are an error that names the field.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.core.config import LeadProfile, ProfileRule


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
