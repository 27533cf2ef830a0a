"""The facts the leakage review rests on, field by field, on hand-built leads: name cues,
presence by outcome, dates after creation, a field still being filled in, and a field recorded
only with a later event. (Verdicts: test_leakage_verdicts.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.data.leakage_evidence import (
    _as_numbers,
    date_after_creation,
    event_dates,
    field_evidence,
    filling_in,
    lead_age_days,
    name_cues,
    presence_by_outcome,
    recorded_with,
)


def test_name_cues_read_camel_case_and_underscores_as_words():
    assert name_cues("LastActivity") == ["post-contact: 'last activit'"]
    assert name_cues("call_duration") == ["post-contact: 'call'", "post-contact: 'duration'"]
    assert name_cues("LeadScore") == ["status-like: 'score'"]
    assert name_cues("Lead Stage") == ["status-like: 'stage'"]
    assert name_cues("company_size") == []


def test_presence_is_measured_per_outcome():
    values = pd.Series([1.0, None, 2.0, None, None])
    y = np.array([1, 1, 0, 0, 0])
    assert presence_by_outcome(values, y) == (0.5, pytest.approx(1 / 3))


def test_a_date_on_the_creation_day_is_not_after_it():
    created = pd.Series(pd.to_datetime(["2026-01-01"] * 4))
    dates = pd.Series(["2026-01-02", "2026-01-01", "garbled", None])
    assert date_after_creation(dates, created) == 0.5  # of the two readable dates
    assert date_after_creation(dates, None) is None
    assert date_after_creation(pd.Series([None, "x", None, None]), created) is None


def test_a_leads_age_is_counted_from_the_newest_lead():
    created = pd.Series(
        pd.to_datetime(["2026-01-10 12:00", "2026-01-01 00:00", "2026-01-10 00:00"])
    )
    assert lead_age_days(created).tolist() == [0.0, 9.5, 0.5]


def test_flags_and_numbers_read_as_floats():
    assert _as_numbers(pd.Series([True, False])).tolist() == [1.0, 0.0]
    mixed = _as_numbers(pd.Series([True, "3", None, "x"], dtype=object))
    assert mixed.tolist()[:2] == [1.0, 3.0] and mixed[2:].isna().all()
    assert _as_numbers(pd.Series([2, 3])).dtype == float


def ages(young: int, older: int) -> pd.Series:
    """`young` leads 1 day old at the export and `older` leads 5 days old."""
    return pd.Series([1.0] * young + [5.0] * older)


def test_a_field_empty_for_the_newest_leads_is_still_being_filled_in():
    values = pd.Series([None] * 30 + ["owner"] * 30)
    found = filling_in(values, "categorical", ages(30, 30))
    assert found is not None
    assert (found["auc"], found["days"], found["what"]) == (1.0, 3, "missingness")
    assert found["low"] <= 1.0 == found["high"]
    # a field filled in at creation looks the same at any age
    assert filling_in(pd.Series(["a", "b"] * 30), "categorical", ages(30, 30)) is None


def test_too_few_leads_on_either_side_measure_nothing():
    assert filling_in(pd.Series([None] * 29 + ["x"] * 30), "categorical", ages(29, 30)) is None
    assert filling_in(pd.Series([None] * 30 + ["x"] * 29), "categorical", ages(30, 29)) is None
    assert filling_in(pd.Series([None] * 60), "categorical", None) is None
    assert filling_in(pd.Series([None] * 30 + ["x"] * 30), "date", ages(30, 30)) is None


def test_a_count_still_small_for_the_newest_leads_is_measured_on_its_values():
    values = pd.Series([0.0] * 30 + [5.0] * 30)
    found = filling_in(values, "numeric", ages(30, 30))
    assert (found["auc"], found["days"], found["what"]) == (1.0, 3, "values")
    flags = pd.Series([False] * 30 + [True] * 30)
    assert filling_in(flags, "boolean", ages(30, 30))["what"] == "values"
    # categories are measured on their missingness only
    assert filling_in(pd.Series(["a"] * 30 + ["b"] * 30), "categorical", ages(30, 30)) is None


def test_values_need_thirty_present_leads_on_each_side():
    values = pd.Series([0.0] * 29 + [None] + [5.0] * 30)
    found = filling_in(values, "numeric", ages(30, 30))
    assert found["what"] == "missingness"  # one missing young lead: the values are not measured


def test_the_evidence_of_a_field_with_some_values_missing():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    fold = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    values = pd.Series([3.0, 3.0, 2.0, 4.0, None, 1.0, None, 1.0])
    recent = {"auc": 0.712345, "low": 0.61234, "high": 0.8, "days": 7, "what": "values"}
    found = field_evidence(values, "numeric", y, fold, None, recent)
    assert found["kind"] == "numeric"
    assert found["missing_share"] == 0.25
    assert found["distinct_values"] == 4
    assert found["present_share_converted"] == 1.0 and found["present_share_unconverted"] == 0.5
    assert found["missing_auc"] == 0.75  # missing only among the unconverted
    assert 0.5 <= found["single_field_auc"] <= 1
    assert found["auc_ci_low"] <= found["single_field_auc"] <= found["auc_ci_high"]
    assert (found["recent_auc"], found["recent_auc_ci_low"]) == (0.7123, 0.6123)
    assert (found["recent_days"], found["recent_by"]) == (7, "values")
    assert found["name_cues"] == [] and found["after_creation_share"] is None


def test_evidence_needs_both_outcomes_and_a_present_value():
    y0 = np.zeros(4, dtype=int)
    fold = np.array([0, 1, 0, 1])
    one_outcome = field_evidence(pd.Series([1.0, None, 2.0, 3.0]), "numeric", y0, fold, None)
    assert one_outcome["single_field_auc"] is None and one_outcome["missing_auc"] is None
    assert one_outcome["present_share_converted"] is None
    assert one_outcome["recent_auc"] is None and one_outcome["recent_days"] is None
    y = np.array([1, 0, 1, 0])
    empty = field_evidence(pd.Series([None] * 4, dtype=float), "numeric", y, fold, None)
    assert empty["single_field_auc"] is None and empty["missing_auc"] is None
    assert empty["distinct_values"] == 0 and empty["missing_share"] == 1.0
    full = field_evidence(pd.Series([1.0, 2.0, 1.0, 2.0]), "numeric", y, fold, None)
    assert full["missing_auc"] is None and full["present_share_converted"] is None


def test_a_dates_evidence_is_its_share_after_creation():
    created = pd.Series(pd.to_datetime(["2026-01-01"] * 3))
    dates = pd.Series(pd.to_datetime(["2026-01-05", "2026-01-05", "2025-12-01"]))
    found = field_evidence(dates, "date", np.array([1, 0, 1]), np.array([0, 1, 0]), created)
    assert found["after_creation_share"] == 0.6667
    assert found["single_field_auc"] is None


def contacts(n: int = 100, missing: int = 40) -> pd.DataFrame:
    created = pd.Series(pd.to_datetime(["2026-01-01"] * n))
    contact = pd.Series(pd.to_datetime(["2026-01-03"] * (n - missing) + [None] * missing))
    return pd.DataFrame({fields.CREATED_AT: created, "first_contact": contact})


def test_an_event_date_is_a_later_date_some_leads_lack():
    frame = contacts()
    events = event_dates(frame, {"first_contact": "date"}, frame[fields.CREATED_AT])
    assert list(events) == ["first_contact"]
    assert events["first_contact"].tolist() == [False] * 60 + [True] * 40
    assert event_dates(frame, {"first_contact": "date"}, None) == {}
    # every lead has it, or none: no event to follow
    assert (
        event_dates(contacts(missing=0), {"first_contact": "date"}, frame[fields.CREATED_AT]) == {}
    )
    # a date before creation is no later event
    early = frame.assign(first_contact=frame["first_contact"] - pd.Timedelta(days=10))
    assert event_dates(early, {"first_contact": "date"}, frame[fields.CREATED_AT]) == {}
    # the won date counts though it is no input
    won = frame.rename(columns={"first_contact": fields.WON_AT})
    assert list(event_dates(won, {}, won[fields.CREATED_AT])) == [fields.WON_AT]


def test_the_share_of_leads_missing_an_event_date_is_bounded():
    frame = contacts(missing=1)  # 1 % missing: still an event
    assert list(event_dates(frame, {"first_contact": "date"}, frame[fields.CREATED_AT]))
    frame = contacts(missing=99)  # 99 %: still an event
    assert list(event_dates(frame, {"first_contact": "date"}, frame[fields.CREATED_AT]))
    frame = contacts(n=1000, missing=995)  # 99.5 %: too rare to tell
    assert event_dates(frame, {"first_contact": "date"}, frame[fields.CREATED_AT]) == {}


def test_a_field_empty_or_zero_exactly_where_the_event_is_missing_is_recorded_with_it():
    missing = np.array([False] * 60 + [True] * 40)
    events = {"first_contact": missing}
    touches = pd.Series([3.0] * 60 + [0.0] * 40, name="touches")
    assert recorded_with(touches, "numeric", events) == "first_contact"
    owner = pd.Series(["Ann"] * 60 + [None] * 40, name="owner")
    assert recorded_with(owner, "categorical", events) == "first_contact"
    unreadable = pd.Series(["3"] * 60 + ["x"] * 40, name="touches")  # "x" reads as no number
    assert recorded_with(unreadable, "numeric", events) is None
    zeros = pd.Series(["0"] * 60 + [None] * 40, name="code")  # zero is empty for counts only
    assert recorded_with(zeros, "categorical", events) == "first_contact"
    assert recorded_with(pd.Series([0.0] * 60 + [None] * 40), "numeric", events) is None
    # agreement on 99 of 100 leads is enough, on 98 it is not
    one_off = pd.Series(["Ann"] * 59 + [None] * 41, name="owner")
    assert recorded_with(one_off, "categorical", events) == "first_contact"
    two_off = pd.Series(["Ann"] * 58 + [None] * 42, name="owner")
    assert recorded_with(two_off, "categorical", events) is None
    itself = pd.Series(["x"] * 60 + [None] * 40, name="first_contact")
    assert recorded_with(itself, "categorical", events) is None


def test_evidence_figures_are_quoted_to_four_decimals_under_fixed_keys():
    y = np.array([1, 1, 1, 0, 0, 0])
    fold = np.array([0, 1, 0, 1, 0, 1])
    values = pd.Series([1.0, None, 2.0, 3.0, 4.0, None])
    found = field_evidence(values, "numeric", y, fold, None)
    assert set(found) == {
        "kind", "missing_share", "distinct_values", "name_cues", "single_field_auc",
        "auc_ci_low", "auc_ci_high", "missing_auc", "present_share_converted",
        "present_share_unconverted", "after_creation_share", "recent_auc", "recent_auc_ci_low",
        "recent_days", "recent_by",
    }  # fmt: skip
    assert found["missing_share"] == 0.3333
    assert found["present_share_converted"] == found["present_share_unconverted"] == 0.6667
    for key in ("single_field_auc", "auc_ci_low", "auc_ci_high", "missing_auc"):
        assert found[key] == round(found[key], 4)
    assert found["auc_ci_low"] != round(found["auc_ci_low"], 3)  # a figure with digits to cut
    one = field_evidence(values, "numeric", np.array([1, 0, 0, 0, 0, 0]), fold, None)
    assert one["single_field_auc"] is not None  # one converted lead is both outcomes
    every = field_evidence(values, "numeric", np.ones(6, dtype=int), fold, None)
    assert every["single_field_auc"] is None and every["missing_auc"] is None
    undated = field_evidence(pd.Series(["2026-01-01"] * 6), "date", y, fold, None)
    assert undated["after_creation_share"] is None


def test_many_numbers_carry_their_signal_through_the_bins():
    values = pd.Series(np.arange(40, dtype=float))
    y = (np.arange(40) >= 20).astype(int)
    fold = np.arange(40) % 2
    found = field_evidence(values, "numeric", y, fold, None)
    assert found["single_field_auc"] >= 0.9  # each value alone is never seen in the other fold


def test_the_age_windows_have_their_bounds():
    values = pd.Series([None] * 30 + ["x"] * 30)
    at_three = pd.Series([1.0] * 30 + [3.0] * 30)  # 3 days old: older, not young
    assert filling_in(values, "categorical", at_three)["days"] == 3
    at_twelve = pd.Series([1.0] * 30 + [12.0] * 30)  # 4 x 3 days: too old for 3, older for 7
    assert filling_in(values, "categorical", at_twelve)["days"] == 7


def test_an_event_date_must_fall_after_creation_for_more_than_half():
    frame = contacts()
    same_day = frame.assign(
        first_contact=frame[fields.CREATED_AT].where(frame["first_contact"].notna())
    )
    assert event_dates(same_day, {"first_contact": "date"}, frame[fields.CREATED_AT]) == {}
    half = frame.copy()
    half.loc[:29, "first_contact"] = half.loc[:29, fields.CREATED_AT]  # 30 of 60 on the day
    assert event_dates(half, {"first_contact": "date"}, frame[fields.CREATED_AT]) == {}
    garbled = frame.astype({"first_contact": object})
    garbled.loc[0, "first_contact"] = "not a date"
    assert list(event_dates(garbled, {"first_contact": "date"}, frame[fields.CREATED_AT]))
