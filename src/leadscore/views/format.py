"""How numbers read in the reports: one definition for the Markdown reports and the HTML page."""

from __future__ import annotations

import math

MISSING = "-"  # a value that does not exist (no leads in the cell, no cost known)


def pct(value: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """0.4213 -> '42.1%'; None -> the missing mark."""
    return missing if value is None else f"{value:.{digits}%}"


def money(value: float | None, missing: str = MISSING) -> str:
    """1234567.8 -> '1,234,568'; None or NaN -> the missing mark."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:,.0f}"


def count(value: float | None, missing: str = MISSING) -> str:
    """A number of leads or deals, as `money` shows it: 1234 -> '1,234'."""
    return money(value, missing)


def cash(value: float | None, currency: str, missing: str = MISSING) -> str:
    """An amount of money with its currency: 1234567.8, 'USD' -> 'USD 1,234,568'."""
    shown = money(value, missing)
    return shown if shown == missing else f"{currency} {shown}"


def num(value: float | int | str | None, missing: str = MISSING) -> str:
    """Three significant digits for floats, anything else as text."""
    if value is None:
        return missing
    return f"{value:.3g}" if isinstance(value, float) else str(value)
