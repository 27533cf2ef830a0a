"""Minimum data per period: the periods short of the publish gate's converted and not converted
leads, and the settings that would work, computed from the data (period lengths, shares, a
lower gate or another as-of date)."""

from __future__ import annotations

import math

import pandas as pd

from leadscore.core import fields
from leadscore.data.split import (
    PERIOD_NAMES,
    SPLITS,
    TIME,
    SplitError,
    SplitResult,
    censor_open_windows,
    outcome_counts,
    separate_open,
)

MAX_PROPOSED_MONTHS = 12


def shortfalls(result: SplitResult, min_positives: int, min_negatives: int) -> list[str]:
    """One line per period that lacks the minimum of converted or not converted leads."""
    lines = []
    for name in SPLITS:
        positives, negatives = outcome_counts(getattr(result, name))
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
    positives, negatives = outcome_counts(decided)
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
        f"the {PERIOD_NAMES[name]} period ({outcome_counts(getattr(result, name))[0]:,})"
        for name in SPLITS
        if outcome_counts(getattr(result, name))[0] < min_positives
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
    positives, negatives = outcome_counts(closed)
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
    positives, negatives = outcome_counts(decided)
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
