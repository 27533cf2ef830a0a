"""Business hours, defined once: how long sales took to reach a lead, as the follow-up promise
counts it (Monday to Friday, from `start` to `end` o'clock; weekends do not count).

A business-hour clock runs from 1970-01-01 (a Thursday): the elapsed business hours between two
timestamps are the difference of their clock readings, so a lead created on Friday evening and
called on Monday at 10:00 waited one business hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPOCH = np.datetime64("1970-01-01", "D")


def business_clock(stamps: pd.Series, start: int = 9, end: int = 18) -> pd.Series:
    """Business hours from the epoch to each timestamp (missing stays missing)."""
    moments = pd.to_datetime(stamps)
    known = moments.notna().to_numpy()
    days = moments.dt.floor("D").to_numpy(dtype="datetime64[D]")
    clock = np.full(len(moments), np.nan)
    if known.any():
        day = days[known]
        hour = (moments[known] - moments[known].dt.floor("D")).dt.total_seconds().to_numpy() / 3600
        within = np.clip(hour - start, 0, end - start) * np.is_busday(day)
        clock[known] = np.busday_count(EPOCH, day) * (end - start) + within
    return pd.Series(clock, index=stamps.index)


def business_hours_between(
    first: pd.Series, second: pd.Series, start: int = 9, end: int = 18
) -> pd.Series:
    """Business hours from `first` to `second` per row (missing where either is missing)."""
    return business_clock(second, start, end) - business_clock(first, start, end)


def add_business_hours(
    stamps: pd.Series, hours: np.ndarray, start: int = 9, end: int = 18
) -> pd.Series:
    """The moment `hours` business hours after each timestamp (inverse of the clock)."""
    length = end - start
    reading = business_clock(stamps, start, end).to_numpy() + np.asarray(hours, float)
    whole = np.floor(reading / length)
    day = np.busday_offset(EPOCH, whole.astype("int64"), roll="forward")
    offset = start + reading - whole * length
    moments = pd.to_datetime(day) + pd.to_timedelta(offset, unit="h")
    return pd.Series(moments, index=stamps.index).dt.round("min")
