"""Split stage: train / validation (calibration) / test, with undecided outcomes left out.

Which split:
- "time": with creation dates, the newest whole months are the test period, the months before
  them the validation period, the rest trains;
- "row order": without dates, when the export declares its rows in time order
  (`data.rows_in_time_order`), the last rows test and the rows before them validate;
- "stratified": without dates or order, a stratified random split.

Undecided leads never train or judge (the rule is leadscore.core.outcome): open leads (a status
listed under `open_values`) are counted apart, and without a status every lead whose outcome
window is still open at the as-of date is censored. Each period must hold the publish gate's
minimum of converted and not converted leads; otherwise the stage stops and proposes settings
that would work, computed from the data (leadscore.data.split_proposal).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from leadscore.core import fields, outcome

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
PERIOD_NAMES = {"train": "training", "valid": "calibration (valid)", "test": "test"}
TIME, ROW_ORDER, STRATIFIED = "time", "row order", "stratified"


class SplitError(ValueError):
    """The leads cannot be split as configured (a period lacks data); the message proposes
    settings that would work."""


@dataclass(frozen=True)
class SplitResult:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    censored: pd.DataFrame
    summary: dict
    open: pd.DataFrame | None = None  # open leads: never negatives, still scorable


def separate_open(leads: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(decided leads with a boolean outcome, open leads). Without a status nothing is open."""
    if fields.OUTCOME_STATUS not in leads:
        return leads, leads.iloc[:0]
    is_open = (leads[fields.OUTCOME_STATUS] == outcome.OPEN).fillna(False).to_numpy(bool)
    decided = leads.loc[~is_open].astype({fields.CONVERTED: bool})
    return decided, leads.loc[is_open]


def censor_open_windows(
    leads: pd.DataFrame, as_of: pd.Timestamp, window_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split leads into those whose outcome is known at `as_of` and those censored (the rule
    is `leadscore.core.outcome.censored`)."""
    has_status = fields.OUTCOME_STATUS in leads
    unknown = outcome.censored(leads[fields.CREATED_AT], as_of, window_days, has_status)
    return leads.loc[~unknown], leads.loc[unknown]


def month_cutoffs(latest: pd.Timestamp, valid_months: int, test_months: int) -> tuple:
    """Start dates of the validation and test periods: the test period is the `test_months`
    calendar months up to the newest lead's month, the validation period the `valid_months`
    before it. Both start on the first of a month, whatever the length of the newest month."""
    newest = pd.Timestamp(latest).to_period("M")
    test_start = (newest - (test_months - 1)).to_timestamp()
    valid_start = (newest - (test_months + valid_months - 1)).to_timestamp()
    return valid_start, test_start


def outcome_counts(part: pd.DataFrame) -> tuple[int, int]:
    """Converted and not converted leads of a part."""
    converted = part[fields.CONVERTED].astype(bool)
    return int(converted.sum()), int((~converted).sum())


def _summary(split: str, parts: dict[str, pd.DataFrame], censored: int, open_: int) -> dict:
    summary: dict = {"split": split, "rows_censored": int(censored), "rows_open": int(open_)}
    for name, part in parts.items():
        positives, negatives = outcome_counts(part)
        summary[f"rows_{name}"] = int(len(part))
        summary[f"positives_{name}"] = positives
        summary[f"negatives_{name}"] = negatives
        rate = positives / len(part) if len(part) else float("nan")
        summary[f"base_rate_{name}"] = round(rate, 6)
    return summary


def _result(parts: dict, censored: pd.DataFrame, open_: pd.DataFrame, summary: dict):
    return SplitResult(
        **{k: v.reset_index(drop=True) for k, v in parts.items()},
        censored=censored.reset_index(drop=True),
        summary=summary,
        open=open_.reset_index(drop=True),
    )


def time_periods(
    closed: pd.DataFrame, valid_months: int, test_months: int
) -> tuple[dict[str, pd.DataFrame], pd.Timestamp, pd.Timestamp]:
    """Train, validation and test periods of the leads with a known outcome."""
    valid_start, test_start = month_cutoffs(
        closed[fields.CREATED_AT].max(), valid_months, test_months
    )
    created = closed[fields.CREATED_AT]
    parts = {
        "train": closed.loc[created < valid_start],
        "valid": closed.loc[(created >= valid_start) & (created < test_start)],
        "test": closed.loc[created >= test_start],
    }
    return parts, valid_start, test_start


def time_split(
    leads: pd.DataFrame, as_of: pd.Timestamp, window_days: int, valid_months: int, test_months: int
) -> SplitResult:
    """Leave out open and censored leads, then train on the oldest and test on the newest."""
    decided, open_ = separate_open(leads)
    closed, censored = censor_open_windows(decided, as_of, window_days)
    if closed.empty:
        raise SplitError(
            f"no lead has a closed outcome window: all {len(decided)} decided leads were created "
            f"within {window_days} days of the as-of date {as_of.date()}"
        )
    parts, valid_start, test_start = time_periods(closed, valid_months, test_months)
    newest = closed[fields.CREATED_AT].max()
    summary = {
        **_summary(TIME, parts, len(censored), len(open_)),
        "as_of": str(as_of.date()),
        "window_days": window_days,
        "valid_start": str(valid_start.date()),
        "test_start": str(test_start.date()),
        "test_end": str(newest.date()),
        "censored_because": (
            f"created after the as-of date {as_of.date()} (won and lost leads are final)"
            if fields.OUTCOME_STATUS in leads
            else f"outcome window ({window_days} days) still open at {as_of.date()}"
        ),
    }
    return _result(parts, censored, open_, summary)


def row_order_split(leads: pd.DataFrame, valid_share: float, test_share: float) -> SplitResult:
    """Without dates but with rows in time order: the last rows test, those before validate."""
    decided, open_ = separate_open(leads)
    n = len(decided)
    n_test, n_valid = round(n * test_share), round(n * valid_share)
    parts = {
        "train": decided.iloc[: n - n_test - n_valid],
        "valid": decided.iloc[n - n_test - n_valid : n - n_test],
        "test": decided.iloc[n - n_test :],
    }
    summary = _summary(ROW_ORDER, parts, 0, len(open_))
    summary["strategy"] = "row order (no creation dates; rows declared in time order)"
    return _result(parts, decided.iloc[:0], open_, summary)


def stratified_split(
    leads: pd.DataFrame, valid_share: float, test_share: float, seed: int
) -> SplitResult:
    """Without creation dates: a stratified random split (same conversion share in each part).

    No window can be placed, so nothing is censored by it; open leads are still left out.
    """
    from sklearn.model_selection import train_test_split

    decided, open_ = separate_open(leads)
    y = decided[fields.CONVERTED].astype(int)
    if y.nunique() < 2:
        raise SplitError(
            f"all {len(decided)} decided leads have the same outcome: nothing to learn"
        )
    rest, test = train_test_split(decided, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(
        rest,
        test_size=valid_share / (1 - test_share),
        stratify=rest[fields.CONVERTED].astype(int),
        random_state=seed,
    )
    parts = {"train": train, "valid": valid, "test": test}
    summary = _summary(STRATIFIED, parts, 0, len(open_))
    summary["strategy"] = "stratified (no creation dates)"
    return _result(parts, decided.iloc[:0], open_, summary)


def resolve_as_of(leads: pd.DataFrame, as_of: str | None) -> pd.Timestamp:
    """The as-of date: configured; else the day after the newest outcome (won) date; else, with
    no outcome dates, the day after the newest lead."""
    if as_of:
        return pd.Timestamp(as_of)
    won = leads[fields.WON_AT].dropna() if fields.WON_AT in leads else pd.Series(dtype=object)
    if len(won):
        return pd.Timestamp(won.max()).normalize() + pd.Timedelta(days=1)
    log.info("split: no outcome dates; as-of is the day after the newest lead")
    return leads[fields.CREATED_AT].max().normalize() + pd.Timedelta(days=1)
