"""How a grade's threshold is chosen, with the boundaries of each limit and the words that
explain it. (The grades' verdicts on the same leads: tests/unit/views/test_contract.py.)"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leadscore.core.config import parse_params
from leadscore.core.contract import GradePromises
from leadscore.model.grading import Grading
from leadscore.model.thresholds import (
    NO_LEAD,
    Band,
    band_note,
    band_record,
    busiest_month_volume,
    choose_band,
    derive_grading,
    grading_record,
)

# 10 leads of each probability (70 leads); in each group of 10, this many converted
PROBABILITY = np.repeat([0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05], 10)
CONVERTED = np.concatenate([[1] * k + [0] * (10 - k) for k in (9, 7, 5, 3, 2, 1, 0)])


def promises(a=0.5, capacity=100, b=0.3, c=0.1) -> GradePromises:
    return GradePromises.model_validate(
        {
            "A": {"min_conversion": a, "max_leads_per_month": capacity},
            "B": {"min_conversion": b},
            "C": {"min_conversion": c},
        }
    )


def cumulative(values: list[float], counts: list[int]) -> tuple[np.ndarray, ...]:
    """`choose_band`'s arguments: distinct values (descending), cumulative counts and sums."""
    values_, counts_ = np.array(values), np.array(counts)
    return values_, np.cumsum(counts_), np.cumsum(values_ * counts_)


def test_a_band_converting_exactly_at_the_target_keeps_it():
    # one lead at 0.75, one at 0.25, one at 0.125: means 0.75, 0.5, 0.375
    band = choose_band(*cumulative([0.75, 0.25, 0.125], [1, 1, 1]), 0.5)
    assert band == Band(0.25, 2, 0.5, "conversion")
    # no band falls below the target: every value joins
    assert choose_band(*cumulative([0.75, 0.25], [1, 1]), 0.5) == Band(0.25, 2, 0.5, "conversion")


def test_a_target_even_the_first_value_misses_is_unkeepable():
    band = choose_band(*cumulative([0.75, 0.25], [1, 1]), 0.8, max_leads=1, floor=0.5)
    assert band == Band(NO_LEAD, 0, None, "unkeepable")
    assert NO_LEAD > 1.0


def test_the_capacity_admits_a_band_of_exactly_that_many_leads():
    values, counts, sums = cumulative([0.75, 0.5, 0.25], [1, 2, 3])  # 1, 3, 6 leads
    assert choose_band(values, counts, sums, 0.1, max_leads=3) == Band(0.5, 3, 1.75 / 3, "capacity")
    assert choose_band(values, counts, sums, 0.1, max_leads=2.9) == Band(0.75, 1, 0.75, "capacity")
    assert choose_band(values, counts, sums, 0.1, max_leads=0.5) == Band(
        NO_LEAD, 0, None, "capacity"
    )


def test_the_floor_admits_a_lead_exactly_on_it():
    values, counts, sums = cumulative([0.75, 0.5, 0.25], [1, 1, 1])
    assert choose_band(values, counts, sums, 0.1, floor=0.5) == Band(0.5, 2, 0.625, "floor")
    assert choose_band(values, counts, sums, 0.1, floor=0.8) == Band(NO_LEAD, 0, None, "floor")
    # without a floor (the lowest grade) every value may join
    assert choose_band(values, counts, sums, 0.1) == Band(0.25, 3, 0.5, "conversion")


def test_a_tie_between_limits_is_put_down_to_the_conversion_promise():
    values, counts, sums = cumulative([0.75, 0.25, 0.125], [1, 1, 1])
    # conversion, capacity and floor all stop after two values
    band = choose_band(values, counts, sums, 0.5, max_leads=2, floor=0.25)
    assert band.binding == "conversion"
    # capacity and floor tie below the conversion limit: capacity is named
    band = choose_band(values, counts, sums, 0.1, max_leads=1, floor=0.75)
    assert band == Band(0.75, 1, 0.75, "capacity")


def test_each_grade_is_recorded_with_its_rule_volume_and_observed_conversion():
    grading, derivation = derive_grading(PROBABILITY, 70, promises(a=0.7, b=0.35, c=0.1), CONVERTED)
    assert grading.thresholds == {"A": 0.5, "B": 0.5, "C": 0.05}
    assert {key: derivation[key] for key in ("method", "monthly_volume", "safety_margin")} == {
        "method": "contract_promises",
        "monthly_volume": 70,
        "safety_margin": 0.0,
    }
    grades = derivation["grades"]
    assert grades["A"] == {
        "threshold": 0.5,
        "binding": "conversion",  # tied with B's floor at 0.35
        "share_of_leads": 30 / 70,
        "leads_per_month": 30.0,
        "expected_conversion": pytest.approx(0.7),
        "observed_conversion": pytest.approx(21 / 30),
        "note": "The lowest bar that keeps the 70% promise with the safety margin "
        "(expected conversion 70.0%, 30 leads a month).",
    }
    assert grades["B"] == {
        "threshold": 0.5,  # empty: it sits at the A bar
        "binding": "unkeepable",
        "share_of_leads": 0.0,
        "leads_per_month": 0.0,
        "expected_conversion": None,
        "observed_conversion": None,
        "note": "No group of leads is expected to convert at 35%: grade B stays empty until "
        "the promise or the model changes.",
    }
    assert grades["C"]["binding"] == "conversion"  # no floor under the lowest grade
    assert grades["C"]["share_of_leads"] == 40 / 70
    assert grades["C"]["expected_conversion"] == pytest.approx(6.5 / 40)
    assert grades["C"]["observed_conversion"] == pytest.approx(6 / 40)
    assert grading.score_edges == pytest.approx(np.quantile(PROBABILITY, np.arange(1, 100) / 100))
    assert grading.raw_score_edges == ()


def test_the_volume_a_month_scales_the_valid_leads_and_the_capacity():
    # 70 valid leads stand for 140 a month: capacity 40 a month is 20 valid leads
    grading, derivation = derive_grading(PROBABILITY, 140, promises(a=0.5, capacity=40))
    assert grading.thresholds["A"] == 0.7
    assert derivation["grades"]["A"]["leads_per_month"] == 40.0
    assert derivation["grades"]["A"]["share_of_leads"] == 20 / 70
    assert derivation["grades"]["A"]["note"] == (
        "Sales capacity wins: at most 40 A leads a month, so the bar is higher than the 50% "
        "promise needs (expected conversion 80.0%, 40 leads a month)."
    )
    assert derivation["grades"]["A"]["observed_conversion"] is None  # no outcomes given


def test_the_floor_note_and_an_empty_band_note():
    _, derivation = derive_grading(PROBABILITY, 70, promises(a=0.5, b=0.3, c=0.1))
    assert derivation["grades"]["A"]["note"] == (
        "The bar stops at the next grade's promise, so no lead is graded above what its own "
        "chance supports (expected conversion 60.0%, 40 leads a month)."
    )
    # 700 leads a month: a capacity of 50 is 5 valid leads, fewer than one tied group of 10
    grading, derivation = derive_grading(PROBABILITY, 700, promises(a=0.5, capacity=50))
    assert derivation["grades"]["A"]["note"] == (
        "Grade A stays empty: its capacity limit leaves no lead for it."
    )
    assert grading.thresholds["A"] == NO_LEAD
    # B then chooses among all leads: down to 0.1 they keep 0.3 (mean 0.45), C's 0.1 is the floor
    assert grading.thresholds["B"] == 0.1
    assert derivation["grades"]["B"]["binding"] == "floor"


def test_raw_output_gives_the_score_edges():
    raw = np.arange(70.0)
    grading, _ = derive_grading(PROBABILITY, 70, promises(), raw=raw)
    assert len(grading.raw_score_edges) == 99
    assert grading.raw_score_edges[0] == pytest.approx(0.5)  # 1st percentile 0.69: 0 | 1


def test_band_note_and_record_in_plain_figures():
    promise = promises().A
    band = Band(0.4, 12, 0.55, "conversion")
    assert band_record(band, 0.4, 48, 2.5) == {
        "threshold": 0.4,
        "binding": "conversion",
        "share_of_leads": 0.25,
        "leads_per_month": 30.0,
        "expected_conversion": 0.55,
    }
    assert band_record(Band(0.4, 1, 0.5, "floor"), 0.4, 3, 1 / 3)["leads_per_month"] == 0.3
    assert band_note("A", band, promise, 30.4) == (
        "The lowest bar that keeps the 50% promise with the safety margin "
        "(expected conversion 55.0%, 30 leads a month)."
    )
    assert band_note("B", Band(NO_LEAD, 0, None, "floor"), promise, 0.0) == (
        "Grade B stays empty: its floor limit leaves no lead for it."
    )


def test_a_full_newest_month_counts():
    created = pd.Series(
        pd.to_datetime(["2026-01-05"] * 3 + ["2026-02-10"] * 5 + ["2026-03-31"] * 9)
    )
    assert busiest_month_volume(created, 6) == 9  # March ends on its last day: complete
    assert busiest_month_volume(created, 2) == 9


def test_a_single_partial_month_is_all_there_is():
    assert busiest_month_volume(pd.Series(pd.to_datetime(["2026-03-02"] * 4)), 6) == 4
    two = pd.Series(pd.to_datetime(["2026-01-05"] * 3 + ["2026-02-10"] * 5))
    assert busiest_month_volume(two, 6) == 3  # February is partial


def test_no_lead_is_the_first_value_above_one():
    assert math.nextafter(1.0, math.inf) == NO_LEAD


def test_groups_of_different_sizes_are_counted_with_their_own_value():
    # 2 leads at 0.9, 8 at 0.3: adding the 0.3 group brings A's mean to 0.42, below 0.5
    probability = np.array([0.9] * 2 + [0.3] * 8)
    grading, derivation = derive_grading(probability, 10, promises(a=0.5, b=0.3, c=0.1))
    assert grading.thresholds["A"] == 0.9
    assert derivation["grades"]["A"]["share_of_leads"] == 0.2
    assert derivation["grades"]["A"]["expected_conversion"] == pytest.approx(0.9)


def test_the_grading_record_holds_the_contract_as_json_and_its_agreement(default_params_raw):
    contract = parse_params(default_params_raw).contract
    grading = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, (0.5,))
    derivation = {"method": "contract_promises", "grades": {}}
    record = grading_record(grading, derivation, contract, "m-1", {"approvals": ["x"]})
    assert record["contract"] == contract.model_dump(mode="json")  # lists, not tuples
    assert record["agreement"] == {"approvals": ["x"]}
    assert record["model_version"] == "m-1"
    assert Grading.from_dict(record) == grading
    assert grading_record(grading, derivation, contract, "m-1")["agreement"] == {}


# 10 leads at three snapshots each (30 rows); four leads reach 0.9 at one snapshot
SNAPSHOT_PROBABILITY = np.array([0.9] * 4 + [0.2] * 26)
SNAPSHOT_LEADS = np.array(list("abcd") + list("abcd") * 2 + list("efghij") * 3)


def graded_snapshots(capacity: int, lead_keys=SNAPSHOT_LEADS):
    return derive_grading(
        SNAPSHOT_PROBABILITY, 10, promises(a=0.5, capacity=capacity), lead_keys=lead_keys
    )


def test_capacity_counts_the_leads_that_reach_a_not_the_share_of_snapshots():
    # 10 leads a month: 4 of the 10 leads reach A, 4 a month, though only 4 of 30 snapshots do
    grading, derivation = graded_snapshots(4)
    assert grading.thresholds["A"] == 0.9
    assert derivation["grades"]["A"]["leads_per_month"] == 4.0
    assert derivation["grades"]["A"]["share_of_leads"] == 4 / 30  # conversion is per snapshot
    # a capacity of 2 a month: the four leads are too many (as snapshots: 1.3 a month)
    grading, derivation = graded_snapshots(2)
    assert grading.thresholds["A"] == NO_LEAD
    assert derivation["grades"]["A"]["binding"] == "capacity"
    by_rows, _ = graded_snapshots(2, lead_keys=None)
    assert by_rows.thresholds["A"] == 0.9


def test_a_capacity_of_distinct_leads_admits_the_snapshots_of_leads_already_in():
    # two leads, each at two snapshots near the top: capacity 2 of 2 leads a month takes all four
    probability = np.array([0.9, 0.8, 0.7, 0.6])
    keys = np.array(["a", "b", "a", "b"])
    a = promises(a=0.5, b=0.05, c=0.01, capacity=2)
    grading, derivation = derive_grading(probability, 2, a, lead_keys=keys)
    assert grading.thresholds["A"] == 0.6
    assert derivation["grades"]["A"]["leads_per_month"] == 2.0
    # one lead a month of capacity: only lead a's first snapshot
    one = promises(a=0.5, b=0.05, c=0.01, capacity=1)
    grading, derivation = derive_grading(probability, 2, one, lead_keys=keys)
    assert grading.thresholds["A"] == 0.9
    assert derivation["grades"]["A"]["binding"] == "capacity"
    assert derivation["grades"]["A"]["leads_per_month"] == 1.0
