"""Data tests of the split: time order, and censoring of open outcome windows."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.data.split import censor_open_windows, month_cutoffs, time_split


def leads_frame(dates: list[str], converted: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(len(dates))],
            "created_at": pd.to_datetime(dates),
            "converted": converted,
        }
    )


def test_censoring_counts_open_windows():
    leads = leads_frame(["2026-01-01", "2026-08-01", "2026-08-03", "2026-10-01"], [True] * 4)
    closed, censored = censor_open_windows(leads, pd.Timestamp("2026-10-31"), window_days=90)
    # 2026-08-03 + 90 days = 2026-11-01, after the as-of date: still open
    assert closed["lead_id"].tolist() == ["L0", "L1"]
    assert censored["lead_id"].tolist() == ["L2", "L3"]


def test_month_cutoffs_count_whole_months():
    valid_start, test_start = month_cutoffs(pd.Timestamp("2026-07-20"), 3, 2)
    assert test_start == pd.Timestamp("2026-06-01")
    assert valid_start == pd.Timestamp("2026-03-01")


def test_time_split_orders_periods_and_excludes_censored(tiny_split, tiny_params):
    s = tiny_split
    assert s.train["created_at"].max() < s.valid["created_at"].min()
    assert s.valid["created_at"].max() < s.test["created_at"].min()
    window = pd.Timedelta(days=tiny_params.contract.outcome.window_days)
    as_of = pd.Timestamp(s.summary["as_of"])
    assert (s.test["created_at"] + window <= as_of).all()
    assert (s.censored["created_at"] + window > as_of).all()
    total = sum(s.summary[f"rows_{k}"] for k in ("train", "valid", "test", "censored"))
    assert total == len(s.train) + len(s.valid) + len(s.test) + len(s.censored)
    assert s.summary["rows_censored"] == len(s.censored) > 0


def test_split_without_closed_windows_explains():
    leads = leads_frame(["2026-10-01", "2026-10-02"], [True, False])
    with pytest.raises(ValueError, match="no lead has a closed outcome window"):
        time_split(leads, pd.Timestamp("2026-10-31"), 90, 1, 1)
