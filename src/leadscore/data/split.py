"""Split stage: time-based train / validation / test, with open outcome windows censored.

A lead created less than `window_days` before the as-of date has not had its full chance to
convert, so it is neither a positive nor a negative yet: it is counted and left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from leadscore.core import fields

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitResult:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    censored: pd.DataFrame
    summary: dict


def window_closes(created: pd.Series, window_days: int) -> pd.Series:
    """The date each lead's outcome window closes."""
    return created + pd.Timedelta(days=window_days)


def censor_open_windows(
    leads: pd.DataFrame, as_of: pd.Timestamp, window_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split leads into those whose outcome window has closed by `as_of` and those still open."""
    closed = window_closes(leads[fields.CREATED_AT], window_days) <= as_of
    return leads.loc[closed], leads.loc[~closed]


def month_cutoffs(latest: pd.Timestamp, valid_months: int, test_months: int) -> tuple:
    """Start dates of the validation and test periods, counted back in whole months."""
    month_end = latest.to_period("M").to_timestamp(how="end").normalize()
    test_start = (month_end - pd.DateOffset(months=test_months)) + pd.Timedelta(days=1)
    valid_start = test_start - pd.DateOffset(months=valid_months)
    return valid_start.normalize(), test_start.normalize()


def time_split(
    leads: pd.DataFrame, as_of: pd.Timestamp, window_days: int, valid_months: int, test_months: int
) -> SplitResult:
    """Censor open windows, then train on the oldest leads and test on the newest closed ones."""
    closed, censored = censor_open_windows(leads, as_of, window_days)
    if closed.empty:
        raise ValueError(
            f"no lead has a closed outcome window: all {len(leads)} leads were created within "
            f"{window_days} days of the as-of date {as_of.date()}"
        )
    valid_start, test_start = month_cutoffs(
        closed[fields.CREATED_AT].max(), valid_months, test_months
    )
    created = closed[fields.CREATED_AT]
    parts = {
        "train": closed.loc[created < valid_start],
        "valid": closed.loc[(created >= valid_start) & (created < test_start)],
        "test": closed.loc[created >= test_start],
    }
    for name, part in parts.items():
        if part.empty or part[fields.CONVERTED].nunique() < 2:
            raise ValueError(
                f"the {name} split has {len(part)} leads and needs both outcomes; use fewer "
                "split.valid_months/test_months or more history"
            )
    summary = {
        "as_of": str(as_of.date()),
        "window_days": window_days,
        "rows_censored": int(len(censored)),
        "valid_start": str(valid_start.date()),
        "test_start": str(test_start.date()),
        **{f"rows_{name}": int(len(part)) for name, part in parts.items()},
        **{
            f"base_rate_{name}": round(float(part[fields.CONVERTED].mean()), 6)
            for name, part in parts.items()
        },
    }
    return SplitResult(
        **{k: v.reset_index(drop=True) for k, v in parts.items()},
        censored=censored.reset_index(drop=True),
        summary=summary,
    )


def stratified_split(
    leads: pd.DataFrame, valid_share: float, test_share: float, seed: int
) -> SplitResult:
    """Without creation dates: a stratified random split (same conversion share in each part).

    Nothing can be censored (the window cannot be placed), so the export is taken to hold only
    leads whose outcome is known.
    """
    from sklearn.model_selection import train_test_split

    y = leads[fields.CONVERTED].astype(int)
    if y.nunique() < 2:
        raise ValueError(f"all {len(leads)} leads have the same outcome: nothing to learn")
    rest, test = train_test_split(leads, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(
        rest,
        test_size=valid_share / (1 - test_share),
        stratify=rest[fields.CONVERTED].astype(int),
        random_state=seed,
    )
    parts = {"train": train, "valid": valid, "test": test}
    summary = {
        "strategy": "stratified (no creation dates)",
        "rows_censored": 0,
        **{f"rows_{name}": int(len(part)) for name, part in parts.items()},
        **{
            f"base_rate_{name}": round(float(part[fields.CONVERTED].mean()), 6)
            for name, part in parts.items()
        },
    }
    return SplitResult(
        **{k: v.reset_index(drop=True) for k, v in parts.items()},
        censored=leads.iloc[:0],
        summary=summary,
    )


def resolve_as_of(leads: pd.DataFrame, as_of: str | None) -> pd.Timestamp:
    """The as-of date: configured, or else the newest lead's creation day."""
    if as_of:
        return pd.Timestamp(as_of)
    return leads[fields.CREATED_AT].max().normalize() + pd.Timedelta(days=1)
