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
that would work, computed from the data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import pandas as pd

from leadscore.core import fields, outcome

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
PERIOD_NAMES = {"train": "training", "valid": "calibration (valid)", "test": "test"}
TIME, ROW_ORDER, STRATIFIED = "time", "row order", "stratified"
MAX_PROPOSED_MONTHS = 12


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


def _counts(part: pd.DataFrame) -> tuple[int, int]:
    converted = part[fields.CONVERTED].astype(bool)
    return int(converted.sum()), int((~converted).sum())


def _summary(split: str, parts: dict[str, pd.DataFrame], censored: int, open_: int) -> dict:
    summary: dict = {"split": split, "rows_censored": int(censored), "rows_open": int(open_)}
    for name, part in parts.items():
        positives, negatives = _counts(part)
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


# --- minimum data per period --------------------------------------------------------------


def shortfalls(result: SplitResult, min_positives: int, min_negatives: int) -> list[str]:
    """One line per period that lacks the minimum of converted or not converted leads."""
    lines = []
    for name in SPLITS:
        positives, negatives = _counts(getattr(result, name))
        if positives < min_positives or negatives < min_negatives:
            lines.append(
                f"the {PERIOD_NAMES[name]} period has {positives:,} converted and "
                f"{negatives:,} not converted leads"
            )
    return lines


def _monthly(closed: pd.DataFrame) -> pd.DataFrame:
    month = closed[fields.CREATED_AT].dt.to_period("M")
    converted = closed[fields.CONVERTED].astype(bool)
    table = pd.DataFrame({"pos": converted, "neg": ~converted}).groupby(month.to_numpy()).sum()
    full = pd.period_range(table.index.min(), table.index.max(), freq="M")
    return table.reindex(full, fill_value=0)


def propose_periods(
    closed: pd.DataFrame,
    min_positives: int,
    min_negatives: int,
    valid_months: int,
    test_months: int,
) -> tuple[int, int, dict] | None:
    """Period lengths (valid_months, test_months) that give every period the minimum, closest
    to the configured ones (then the longest training period), with each period's counts."""
    monthly = _monthly(closed)
    best = None
    months = len(monthly)
    for test in range(1, min(MAX_PROPOSED_MONTHS, months - 2) + 1):
        for valid in range(1, min(MAX_PROPOSED_MONTHS, months - 1 - test) + 1):
            periods = {
                "train": monthly.iloc[: months - test - valid].sum(),
                "valid": monthly.iloc[months - test - valid : months - test].sum(),
                "test": monthly.iloc[months - test :].sum(),
            }
            if all(
                p["pos"] >= min_positives and p["neg"] >= min_negatives for p in periods.values()
            ):
                key = (abs(valid - valid_months) + abs(test - test_months), valid + test)
                if best is None or key < best[0]:
                    counts = {k: (int(p["pos"]), int(p["neg"])) for k, p in periods.items()}
                    best = (key, valid, test, counts)
    return None if best is None else best[1:]


def propose_shares(
    decided: pd.DataFrame, min_positives: int, min_negatives: int
) -> tuple[float, float] | None:
    """valid_share = test_share that give every part the minimum, or None if none can."""
    positives, negatives = _counts(decided)
    if not positives or not negatives:
        return None
    need = max(min_positives / positives, min_negatives / negatives)
    share = math.ceil(need * 100 + 1e-9) / 100
    if share >= 0.5 or 1 - 2 * share < need:
        return None
    return share, share


def _counts_text(counts: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{PERIOD_NAMES[k]} {p:,}/{n:,}" for k, (p, n) in counts.items())


def minimum_data_error(
    result: SplitResult,
    leads: pd.DataFrame,
    min_positives: int,
    min_negatives: int,
    valid_months: int,
    test_months: int,
    default_as_of: pd.Timestamp | None = None,
    window_days: int | None = None,
) -> SplitError | None:
    """None when every period holds the minimum; else the error naming the periods and their
    counts, with a proposal computed from the data."""
    short = shortfalls(result, min_positives, min_negatives)
    if not short:
        return None
    need = (
        f"contract.publish_gate asks at least {min_positives:,} converted and "
        f"{min_negatives:,} not converted leads in each of the training, calibration (valid) "
        "and test periods"
    )
    split = result.summary["split"]
    proposal = _proposal(
        result, leads, split, min_positives, min_negatives, valid_months, test_months,
        default_as_of, window_days,
    )  # fmt: skip
    return SplitError(f"split ({split}): {'; '.join(short)}. {need}. {proposal}")


def lacking_positives(result: SplitResult, min_positives: int) -> list[str]:
    """The periods that hold fewer converted leads than the gate asks, with their count."""
    return [
        f"the {PERIOD_NAMES[name]} period ({_counts(getattr(result, name))[0]:,})"
        for name in SPLITS
        if _counts(getattr(result, name))[0] < min_positives
    ]


def lowest_gate(
    closed: pd.DataFrame,
    min_positives: int,
    min_negatives: int,
    valid_months: int,
    test_months: int,
) -> tuple[int, int, int, dict] | None:
    """The highest min_positives (at most the gate's) for which some period lengths work, with
    those lengths and counts; None when not even one converted lead per period can be had."""
    best = None
    low, high = 1, min_positives
    while low <= high:
        middle = (low + high) // 2
        found = propose_periods(closed, middle, min_negatives, valid_months, test_months)
        if found:
            best, low = (middle, *found), middle + 1
        else:
            high = middle - 1
    return best


def _no_period_lengths(result, closed, total, min_pos, min_neg, valid_months, test_months) -> str:
    """Why no period lengths work, naming the periods short of converted leads, and the three
    ways out: a stratified split, a lower gate, another as-of date."""
    positives, negatives = _counts(closed)
    lacking = lacking_positives(result, min_pos)
    cause = (
        f"No period lengths work: {total} (in closed outcome windows: {positives:,}/{negatives:,})"
    )
    if positives >= 3 * min_pos and lacking:
        cause += (
            f", enough for three periods of {min_pos:,}, but the converted leads are not spread "
            f"over time: too few fall in {' and '.join(lacking)}"
        )
    elif lacking:
        cause += f"; three periods need three times the minimum ({3 * min_pos:,} converted)"
    fixes = []
    shares = propose_shares(closed, min_pos, min_neg)
    if shares:
        fixes.append(
            f"a stratified split of all decided leads (data.created_column: null, "
            f"split.valid_share: {shares[0]}, split.test_share: {shares[1]}; the views by month "
            "then lack dates)"
        )
    gate = lowest_gate(closed, min_pos, min_neg, valid_months, test_months)
    if gate and gate[0] < min_pos:
        floor, valid, test, counts = gate
        fixes.append(
            f"a lower gate both owners approve (leadscore contract propose "
            f"contract.publish_gate.min_positives={floor}) with split.valid_months: {valid} and "
            f"split.test_months: {test} (converted/not converted: {_counts_text(counts)})"
        )
    fixes.append(
        f"another export date (split.as_of, now {result.summary['as_of']}) that closes more "
        "outcome windows"
    )
    return f"{cause}. Fixes: " + "; or ".join(fixes)


def _proposal(
    result, leads, split, min_pos, min_neg, valid_months, test_months, default_as_of, window_days
) -> str:
    decided, _ = separate_open(leads)
    positives, negatives = _counts(decided)
    total = f"the export has {positives:,} converted and {negatives:,} not converted decided leads"
    if split == TIME:
        as_of = pd.Timestamp(result.summary["as_of"])
        closed, _ = censor_open_windows(decided, as_of, window_days or 0)
        found = propose_periods(closed, min_pos, min_neg, valid_months, test_months)
        if found:
            valid, test, counts = found
            return (
                f"Proposal: split.valid_months: {valid} and split.test_months: {test} "
                f"(converted/not converted: {_counts_text(counts)}); the test period ends at "
                f"split.as_of: {as_of.date()} (set split.as_of to move it)"
            )
        if default_as_of is not None and default_as_of > as_of:
            closed, _ = censor_open_windows(decided, default_as_of, window_days or 0)
            found = propose_periods(closed, min_pos, min_neg, valid_months, test_months)
            if found:
                valid, test, counts = found
                return (
                    f"Proposal: split.as_of: {default_as_of.date()} (the day after the newest "
                    f"outcome date) with split.valid_months: {valid} and split.test_months: "
                    f"{test} (converted/not converted: {_counts_text(counts)})"
                )
        return _no_period_lengths(
            result, closed, total, min_pos, min_neg, valid_months, test_months
        )
    shares = propose_shares(decided, min_pos, min_neg)
    if shares:
        return (
            f"Proposal: split.valid_share: {shares[0]} and split.test_share: {shares[1]} ({total})"
        )
    return f"No shares work: {total}; three parts need three times the minimum"
