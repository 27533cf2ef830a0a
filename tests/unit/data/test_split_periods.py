"""The split's periods on hand-built leads: boundaries on the first of a month, the summary's
counts and words, open leads counted apart, and each strategy's shares."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.data.split import (
    SplitError,
    outcome_counts,
    resolve_as_of,
    row_order_split,
    separate_open,
    stratified_split,
    time_periods,
    time_split,
)


def dated(rows: list[tuple[str, bool]], status: list[str | None] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            fields.LEAD_ID: [f"L{i}" for i in range(len(rows))],
            fields.CREATED_AT: pd.to_datetime([day for day, _ in rows], format="ISO8601"),
            fields.CONVERTED: [won for _, won in rows],
        }
    )
    if status is not None:
        frame[fields.OUTCOME_STATUS] = pd.Series(status, dtype="string")
    return frame


# train before April, calibration in April, test from May (the newest lead is in June)
LEADS = dated(
    [
        ("2026-01-15", True),
        ("2026-03-31 23:59", False),
        ("2026-04-01", True),
        ("2026-04-30 12:00", False),
        ("2026-05-01", True),
        ("2026-06-10", False),
        ("2026-06-20", False),
    ]
)


def ids(frame: pd.DataFrame) -> list[str]:
    return frame[fields.LEAD_ID].tolist()


def test_a_lead_on_the_first_of_a_period_belongs_to_it():
    parts, valid_start, test_start = time_periods(LEADS, 1, 2)
    assert (valid_start, test_start) == (pd.Timestamp("2026-04-01"), pd.Timestamp("2026-05-01"))
    assert ids(parts["train"]) == ["L0", "L1"]
    assert ids(parts["valid"]) == ["L2", "L3"]
    assert ids(parts["test"]) == ["L4", "L5", "L6"]


def test_the_time_split_summary_counts_each_period_and_says_why_leads_were_censored():
    result = time_split(LEADS, pd.Timestamp("2026-07-01"), 14, 1, 2)
    assert ids(result.censored) == ["L6"]  # 20 June + 14 days is after 1 July
    assert result.summary == {
        "split": "time",
        "rows_censored": 1,
        "rows_open": 0,
        "rows_train": 2,
        "positives_train": 1,
        "negatives_train": 1,
        "base_rate_train": 0.5,
        "rows_valid": 2,
        "positives_valid": 1,
        "negatives_valid": 1,
        "base_rate_valid": 0.5,
        "rows_test": 2,
        "positives_test": 1,
        "negatives_test": 1,
        "base_rate_test": 0.5,
        "as_of": "2026-07-01",
        "window_days": 14,
        "valid_start": "2026-04-01",
        "test_start": "2026-05-01",
        "test_end": "2026-06-10",
        "censored_because": "outcome window (14 days) still open at 2026-07-01",
    }
    assert ids(result.test) == ["L4", "L5"] and result.test.index.tolist() == [0, 1]
    assert result.open is not None and result.open.empty
    for part in (result.train, result.valid, result.test, result.censored, result.open):
        assert list(part.columns) == list(LEADS.columns)  # no old index left as a column


def test_with_a_status_open_leads_are_counted_apart_and_won_or_lost_is_final():
    status = ["won", "lost", "won", "open", "won", "lost", None]
    leads = LEADS.assign(**{fields.CONVERTED: [1, 0, 1, 0, 1, 0, 0]})
    leads[fields.OUTCOME_STATUS] = pd.Series(status, dtype="string")
    result = time_split(leads, pd.Timestamp("2026-06-15"), 90, 1, 2)
    assert ids(result.open) == ["L3"]
    assert ids(result.censored) == ["L6"]  # created after the as-of date
    assert ids(result.test) == ["L4", "L5"]  # final though their windows are open
    assert result.summary["rows_open"] == 1 and result.summary["rows_valid"] == 1
    assert result.summary["base_rate_valid"] == 1.0
    assert result.summary["censored_because"] == (
        "created after the as-of date 2026-06-15 (won and lost leads are final)"
    )
    assert result.test[fields.CONVERTED].dtype == bool
    assert list(result.open.columns) == list(leads.columns)
    assert result.open.index.tolist() == [0] and result.censored.index.tolist() == [0]


def test_separate_open_keeps_a_missing_status_decided():
    leads = dated([("2026-01-01", True), ("2026-01-02", False), ("2026-01-03", False)],
                  ["won", None, "open"])  # fmt: skip
    decided, open_ = separate_open(leads)
    assert ids(decided) == ["L0", "L1"] and ids(open_) == ["L2"]
    assert decided[fields.CONVERTED].dtype == bool
    everything, nothing = separate_open(LEADS)
    assert everything is LEADS and nothing.empty and list(nothing.columns) == list(LEADS.columns)


def test_outcome_counts_and_an_empty_periods_base_rate():
    assert outcome_counts(LEADS) == (3, 4)
    result = time_split(LEADS.iloc[4:], pd.Timestamp("2026-12-31"), 14, 1, 1)
    assert result.summary["rows_train"] == 0  # only May and June: nothing older than May
    assert math.isnan(result.summary["base_rate_train"])
    assert result.summary["base_rate_valid"] == 1.0 and result.summary["base_rate_test"] == 0.0


def test_a_split_with_every_window_open_says_how_many_and_since_when():
    with pytest.raises(SplitError) as raised:
        time_split(LEADS, pd.Timestamp("2026-01-20"), 30, 1, 1)
    assert str(raised.value) == (
        "no lead has a closed outcome window: all 7 decided leads were created within 30 days "
        "of the as-of date 2026-01-20"
    )


def test_row_order_takes_rounded_shares_from_the_end():
    leads = dated([(f"2026-01-{day:02d}", day % 2 == 0) for day in range(1, 11)])
    leads = leads.drop(columns=fields.CREATED_AT)
    result = row_order_split(leads, 0.25, 0.14)  # 2.5 -> 2 valid, 1.4 -> 1 test
    assert ids(result.test) == ["L9"]
    assert ids(result.valid) == ["L7", "L8"]
    assert ids(result.train) == [f"L{i}" for i in range(7)]
    assert (
        result.summary["strategy"] == "row order (no creation dates; rows declared in time order)"
    )
    assert result.summary["rows_censored"] == 0 and result.censored.empty
    assert result.train.index.tolist() == list(range(7))


def test_a_stratified_split_keeps_each_share_and_refuses_a_single_outcome():
    leads = pd.DataFrame(
        {
            fields.LEAD_ID: [f"L{i}" for i in range(40)],
            fields.CONVERTED: [i % 4 == 0 for i in range(40)],
        }
    )
    for seed in range(5):  # stratified: 10 converted of 40 split 6 / 2 / 2 whatever the seed
        result = stratified_split(leads, 0.2, 0.2, seed=seed)
        assert [result.summary[f"rows_{p}"] for p in ("train", "valid", "test")] == [24, 8, 8]
        assert [result.summary[f"positives_{p}"] for p in ("train", "valid", "test")] == [6, 2, 2]
    assert result.summary["strategy"] == "stratified (no creation dates)"
    assert result.summary["rows_censored"] == 0 and result.censored.empty
    assert list(result.train.columns) == list(leads.columns)
    again = stratified_split(leads, 0.2, 0.2, seed=4)
    assert ids(again.test) == ids(result.test) and ids(again.valid) == ids(result.valid)
    assert sorted(ids(result.train) + ids(result.valid) + ids(result.test)) == sorted(ids(leads))
    with pytest.raises(SplitError) as raised:
        stratified_split(leads.assign(**{fields.CONVERTED: False}), 0.25, 0.25, seed=3)
    assert str(raised.value) == "all 40 decided leads have the same outcome: nothing to learn"


def test_a_base_rate_is_rounded_to_six_digits():
    thirds = dated([("2026-01-01", True), ("2026-01-02", False), ("2026-01-03", False),
                    ("2026-03-01", True)])  # fmt: skip
    summary = time_split(thirds, pd.Timestamp("2026-12-31"), 14, 1, 1).summary
    assert summary["rows_train"] == 3 and summary["base_rate_train"] == 0.333333


def test_the_as_of_date_without_outcome_dates_is_the_day_after_the_newest_lead():
    assert resolve_as_of(LEADS, None) == pd.Timestamp("2026-06-21")
    no_wins = LEADS.assign(**{fields.WON_AT: pd.NaT})
    assert resolve_as_of(no_wins, None) == pd.Timestamp("2026-06-21")
    assert resolve_as_of(no_wins, "") == pd.Timestamp("2026-06-21")
