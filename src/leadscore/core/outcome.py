"""The outcome rule, defined once: what counts as won, lost or open, and the outcome window.

Every place that turns a CRM outcome into a label (reading an export, the split, the feedback
report) calls these functions, so a lead gets the same label wherever it is judged.

The window boundary compares timestamps: a lead created at `c` is won within a 90-day window
when `won_at - c <= 90 days` exactly. A win at 90 days and 5 hours is outside the window (a
negative); a win at 90 days 00:00:00 is inside.

Censoring (leads that are neither positives nor negatives yet):
- With a status column that lists won, lost and open values, a lead closed as won or lost is
  final whatever the date; open leads are never negatives and never train or evaluate.
- Without such a list (a 0/1 column, or only a won date), not-won cannot be told from
  still-open, so every lead whose window is still open at the as-of date is censored, winners
  included (keeping only the fast winners of the newest weeks would inflate their rate).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

WON, LOST, OPEN = "won", "lost", "open"
STATUSES = (WON, LOST, OPEN)


def window_end(created: pd.Series, window_days: int) -> pd.Series:
    """The moment each lead's outcome window closes."""
    return created + pd.Timedelta(days=window_days)


def won_within_window(created: pd.Series, won: pd.Series, window_days: int) -> pd.Series:
    """True where a win is recorded no later than `window_days` after creation (timestamps)."""
    created = pd.to_datetime(created, errors="coerce")
    won = pd.to_datetime(won, errors="coerce")
    return (won.notna() & (won <= window_end(created, window_days))).astype(bool)


def window_open(created: pd.Series, as_of: pd.Timestamp, window_days: int) -> pd.Series:
    """True where the outcome window has not closed by `as_of`."""
    return window_end(created, window_days) > as_of


def _tokens(values: Iterable[object]) -> set[str]:
    return {str(value).strip().lower() for value in values}


def normalise_status(values: pd.Series) -> pd.Series:
    """Status text as compared with the configured lists: stripped and lower-cased."""
    return values.astype("string").str.strip().str.lower()


def classify_status(
    values: pd.Series,
    won_values: Iterable[object],
    lost_values: Iterable[object],
    open_values: Iterable[object],
) -> tuple[pd.Series, dict[str, int]]:
    """Each lead's status as won / lost / open (missing stays missing), and the values found in
    none of the three lists with their counts (case and surrounding spaces ignored)."""
    text = normalise_status(values)
    status = pd.Series(pd.NA, index=values.index, dtype="string")
    for name, listed in ((OPEN, open_values), (LOST, lost_values), (WON, won_values)):
        status = status.mask(text.isin(_tokens(listed)), name)
    unlisted = values[text.notna() & status.isna()].astype("string").str.strip()
    counts = unlisted.value_counts()
    return status, {str(k): int(v) for k, v in counts.items()}


def label(
    status: pd.Series, created: pd.Series | None, won: pd.Series | None, window_days: int
) -> pd.Series:
    """converted from an explicit status: won -> True (False when its won date falls after the
    window), lost -> False, open or missing -> missing (never a negative)."""
    converted = pd.Series(pd.NA, index=status.index, dtype="boolean")
    converted[status == LOST] = False
    is_won = (status == WON).fillna(False)
    converted[is_won] = True
    if won is not None and created is not None:
        dated = pd.to_datetime(won, errors="coerce").notna()
        late = is_won & dated & ~won_within_window(created, won, window_days)
        converted[late] = False
    return converted


def censored(
    created: pd.Series, as_of: pd.Timestamp, window_days: int, has_status: bool
) -> pd.Series:
    """Leads whose outcome is not known at `as_of`.

    With a status (won/lost/open), a won or lost lead is final and open leads are counted apart:
    only leads created at or after `as_of` are unknown. Without one, every lead whose outcome
    window is still open at `as_of`.
    """
    if has_status:
        return created >= as_of
    return window_open(created, as_of, window_days)
