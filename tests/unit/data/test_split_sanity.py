"""Split sanity: month periods, undated splits, and the minimum data of every period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.data.split import (
    SplitError,
    month_cutoffs,
    resolve_as_of,
    row_order_split,
    stratified_split,
    time_split,
)
from leadscore.data.split_proposal import minimum_data_error, propose_periods


@pytest.mark.parametrize(
    ("latest", "test_start", "valid_start"),
    [
        ("2026-02-28", "2025-12-01", "2025-09-01"),  # 28-day month
        ("2024-02-29", "2023-12-01", "2023-09-01"),  # 29-day month
        ("2026-06-30", "2026-04-01", "2026-01-01"),  # 30-day month: used to start on the 31st
        ("2026-06-01", "2026-04-01", "2026-01-01"),
        ("2026-08-31", "2026-06-01", "2026-03-01"),  # 31-day month
        ("2026-09-15 13:45", "2026-07-01", "2026-04-01"),
    ],
)
def test_periods_start_on_the_first_of_a_month(latest, test_start, valid_start):
    valid, test = month_cutoffs(pd.Timestamp(latest), valid_months=3, test_months=3)
    assert (valid, test) == (pd.Timestamp(valid_start), pd.Timestamp(test_start))


def undated(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            fields.LEAD_ID: [f"L{i:04d}" for i in range(n)],
            fields.CONVERTED: rng.random(n) < 0.3,
            "visits": rng.poisson(3, n),
        }
    )


def test_without_dates_the_split_is_stratified_and_named():
    result = stratified_split(undated(), 0.2, 0.2, seed=1)
    assert result.summary["split"] == "stratified"
    rates = [result.summary[f"base_rate_{p}"] for p in ("train", "valid", "test")]
    assert max(rates) - min(rates) < 0.02


def test_rows_in_time_order_give_a_chronological_split():
    leads = undated(100)
    result = row_order_split(leads, 0.2, 0.1)
    assert result.summary["split"] == "row order"
    assert result.test[fields.LEAD_ID].tolist() == leads[fields.LEAD_ID].tolist()[-10:]
    assert result.valid[fields.LEAD_ID].tolist() == leads[fields.LEAD_ID].tolist()[70:90]
    assert len(result.train) == 70


def monthly_leads(positives_per_month: list[int], negatives: int = 50) -> pd.DataFrame:
    """Leads on the 10th of consecutive months from 2025-01, with given conversions."""
    rows = []
    for month, positives in enumerate(positives_per_month):
        created = pd.Timestamp("2025-01-10") + pd.DateOffset(months=month)
        rows += [(created, True)] * positives + [(created, False)] * negatives
    frame = pd.DataFrame(rows, columns=[fields.CREATED_AT, fields.CONVERTED])
    frame[fields.LEAD_ID] = [f"L{i}" for i in range(len(frame))]
    return frame


def test_a_period_with_too_few_positives_is_named_with_a_proposal():
    # 12 months; the newest months convert rarely: 3 months of test hold only 3 positives
    leads = monthly_leads([20] * 9 + [1, 1, 1])
    as_of = pd.Timestamp("2026-06-01")  # every window closed
    result = time_split(leads, as_of, 90, valid_months=2, test_months=3)
    error = minimum_data_error(result, leads, 10, 10, 2, 3, as_of, 90)
    assert isinstance(error, SplitError)
    message = str(error)
    assert "the test period has 3 converted and 150 not converted leads" in message
    assert "at least 10 converted and 10 not converted" in message
    assert "Proposal: split.valid_months: 2 and split.test_months: 4" in message
    valid, test, counts = propose_periods(leads, 10, 10, 2, 3)
    assert (valid, test) == (2, 4) and counts["test"] == (23, 200)
    proposed = time_split(leads, as_of, 90, valid, test)
    assert minimum_data_error(proposed, leads, 10, 10, valid, test, as_of, 90) is None


def test_too_little_data_says_no_period_lengths_work():
    leads = monthly_leads([2] * 6)
    result = time_split(leads, pd.Timestamp("2026-01-01"), 90, 1, 1)
    message = str(minimum_data_error(result, leads, 10, 10, 1, 1, None, 90))
    assert "training period has" in message and "No period lengths work" in message


def test_undated_shares_are_proposed():
    leads = undated(600)
    result = stratified_split(leads, 0.2, 0.2, seed=1)
    positives = int(leads[fields.CONVERTED].sum())
    message = str(minimum_data_error(result, leads, 50, 50, 3, 3))
    assert "calibration (valid) period has" in message
    share = np.ceil(50 / positives * 100) / 100
    assert f"split.valid_share: {share} and split.test_share: {share}" in message


def test_default_as_of_comes_from_the_outcome_dates():
    leads = monthly_leads([5, 5])
    leads[fields.WON_AT] = pd.NaT
    leads.loc[0, fields.WON_AT] = pd.Timestamp("2025-03-20 15:00")
    assert resolve_as_of(leads, None) == pd.Timestamp("2025-03-21")
    assert resolve_as_of(leads.drop(columns=fields.WON_AT), None) == pd.Timestamp("2025-02-11")
    assert resolve_as_of(leads, "2025-06-30") == pd.Timestamp("2025-06-30")


def test_wins_missing_from_some_periods_are_named_with_three_fixes():
    # 40 converted leads, enough for three periods of 12, but all in the last four months
    leads = monthly_leads([0] * 8 + [10] * 4)
    as_of = pd.Timestamp("2026-06-01")
    result = time_split(leads, as_of, 90, valid_months=1, test_months=1)
    message = str(minimum_data_error(result, leads, 12, 12, 1, 1, None, 90))
    # the cause: which periods lack converted leads, although the total is enough
    assert "enough for three periods of 12, but the converted leads are not spread" in message
    assert "the calibration (valid) period (10) and the test period (10)" in message
    # the fixes: a stratified split, a lower gate (with the split it allows), another as-of
    assert "a stratified split of all decided leads (data.created_column: null" in message
    assert "split.valid_share: 0.31, split.test_share: 0.31" in message
    assert "contract.publish_gate.min_positives=10) with split.valid_months: 1" in message
    assert "split.as_of, now 2026-06-01" in message


def test_a_proposed_split_says_where_the_test_period_ends():
    leads = monthly_leads([20] * 9 + [1, 1, 1])
    as_of = pd.Timestamp("2026-06-01")
    result = time_split(leads, as_of, 90, valid_months=2, test_months=3)
    message = str(minimum_data_error(result, leads, 10, 10, 2, 3, as_of, 90))
    assert "the test period ends at split.as_of: 2026-06-01 (set split.as_of to move it)" in message
