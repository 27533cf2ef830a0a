"""The A-lead contract: threshold derivation, the contract report, the publish gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.core.config import parse_params
from leadscore.core.contract import GradePromises
from leadscore.core.params_file import ParamsError
from leadscore.core.stats import wilson_interval
from leadscore.model.thresholds import busiest_month_volume, derive_grading
from leadscore.views.contract import contract_report, grade_verdicts


def promises(a=0.5, capacity=100, b=0.3, c=0.1) -> GradePromises:
    return GradePromises.model_validate(
        {
            "A": {"min_conversion": a, "max_leads_per_month": capacity},
            "B": {"min_conversion": b},
            "C": {"min_conversion": c},
        }
    )


# 10 leads of each probability: 0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05 (70 leads in one month)
PROBABILITY = np.repeat([0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05], 10)


def test_each_grade_takes_the_lowest_bar_that_keeps_its_promise():
    grading, derivation = derive_grading(PROBABILITY, 70, promises(a=0.7, b=0.35, c=0.1))
    # A: {0.9, 0.7, 0.5} has mean 0.70 and keeps 0.7; adding 0.3 (mean 0.6) would not.
    assert grading.thresholds["A"] == 0.5
    # B below 0.5: 0.3 alone (0.3 < 0.35) cannot keep 0.35 -> B is empty
    assert derivation["grades"]["B"]["binding"] == "unkeepable"
    assert grading.thresholds["B"] == 0.5  # an empty band sits at the A bar
    # C: 0.3, 0.2, 0.1 -> mean 0.2; with 0.05 -> 0.1625 >= 0.1; no lower value left
    assert grading.thresholds["C"] == 0.05
    grades = grading.grade(np.array([0.95, 0.5, 0.3, 0.05, 0.01]))
    assert list(grades) == ["A", "A", "C", "C", "D"]


def test_floor_keeps_a_lower_grade_from_being_starved():
    grading, derivation = derive_grading(PROBABILITY, 70, promises(a=0.5, b=0.3, c=0.1))
    # A would keep 0.5 down to 0.2 (mean 0.52), but no A lead may sit below B's promise 0.3
    assert grading.thresholds["A"] == 0.3
    assert derivation["grades"]["A"]["binding"] == "floor"
    # B below 0.3: 0.2 (mean 0.2 < 0.3) -> unkeepable
    assert derivation["grades"]["B"]["binding"] == "unkeepable"


def test_capacity_wins_over_a_lower_bar():
    # 70 valid leads stand for 140 leads a month: capacity 40 a month = 20 valid leads
    grading, derivation = derive_grading(PROBABILITY, 140, promises(a=0.5, capacity=40))
    assert grading.thresholds["A"] == 0.7
    record = derivation["grades"]["A"]
    assert record["binding"] == "capacity"
    assert record["leads_per_month"] == 40
    assert "capacity wins" in record["note"]


def test_capacity_below_one_tied_group_leaves_a_empty():
    grading, derivation = derive_grading(PROBABILITY, 700, promises(a=0.5, capacity=50))
    assert derivation["grades"]["A"]["leads_per_month"] == 0
    assert (grading.grade(PROBABILITY) != "A").all()


def test_unkeepable_promise_is_said_plainly():
    grading, derivation = derive_grading(PROBABILITY, 70, promises(a=0.95, b=0.3))
    assert derivation["grades"]["A"]["binding"] == "unkeepable"
    assert "stays empty" in derivation["grades"]["A"]["note"]
    assert (grading.grade(PROBABILITY) != "A").all()


def test_safety_margin_raises_the_bar():
    plain, _ = derive_grading(PROBABILITY, 70, promises(a=0.6, b=0.2, c=0.05))
    careful, _ = derive_grading(PROBABILITY, 70, promises(a=0.6, b=0.2, c=0.05), None, 0.05)
    assert plain.thresholds["A"] == 0.3  # mean 0.6
    assert careful.thresholds["A"] == 0.5  # needs 0.65: {0.9, 0.7, 0.5} -> 0.7


def test_busiest_month_ignores_a_partial_newest_month():
    created = pd.Series(
        pd.to_datetime(["2026-01-05"] * 3 + ["2026-02-10"] * 5 + ["2026-03-02"] * 9)
    )
    assert busiest_month_volume(created, 6) == 5  # March is partial (newest lead on the 2nd)
    assert busiest_month_volume(created, 1) == 5


@pytest.mark.parametrize(
    ("k", "n", "low", "high"), [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1)]
)
def test_wilson_interval(k, n, low, high):
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-4)


def test_verdicts():
    figures = {"leads": 30, "conversion": 0.39, "leads_per_month": 710.0}
    assert grade_verdicts(figures, 0.4, 700) == {"conversion": "not kept", "capacity": "not kept"}
    figures = {"leads": 30, "conversion": 0.4, "leads_per_month": 700.0}
    assert grade_verdicts(figures, 0.4, 700) == {"conversion": "kept", "capacity": "kept"}


def test_a_promise_missed_only_by_leads_never_worked_is_kept_where_sales_worked(
    default_params_raw,
):
    contract = parse_params(default_params_raw).contract  # C: at least 10 %
    # 100 C leads, 9 converted (9 %): 20 never worked (none converted), 80 worked (9 of 80)
    worked = pd.Series([False] * 20 + [True] * 80)
    scored = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2026-06-01", "2026-07-31"] * 50),
            "grade": ["C"] * 100,
            "converted": [0] * 20 + [1] * 9 + [0] * 71,
        }
    )
    grading = {"thresholds": {"A": 0.6, "B": 0.3, "C": 0.1}, "derivation": {"grades": {}}}
    c = contract_report(scored, contract, grading, {"leads": 100}, worked=worked).to_json()[
        "grades"
    ]["C"]
    assert c["conversion"] == 0.09 and c["worked"]["conversion"] == 9 / 80
    assert c["verdicts"] == {"conversion": "kept where sales worked"}
    assert "the 80 leads sales worked (80.0%) converted at 11.2%" in c["note"]
    assert "20.0% never worked" in c["note"]
    # without first-contact dates the same leads miss the promise; worked leads below it too
    assert contract_report(scored, contract, grading, {"leads": 100}).to_json()["grades"]["C"][
        "verdicts"
    ] == {"conversion": "not kept"}
    fewer = scored.assign(converted=[0] * 20 + [1] * 7 + [0] * 73)
    assert contract_report(fewer, contract, grading, {"leads": 100}, worked=worked).to_json()[
        "grades"
    ]["C"]["verdicts"] == {"conversion": "not kept"}


def test_contract_report_on_a_hand_built_test_period(default_params_raw):
    contract = parse_params(default_params_raw).contract
    # 2 months (2026-06-01..2026-07-31 = 61 days = 2.004 months), 40 leads
    scored = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2026-06-01", "2026-07-31"] * 20),
            "grade": ["A"] * 10 + ["B"] * 10 + ["C"] * 10 + ["D"] * 10,
            "converted": [1] * 8 + [0] * 2 + [1] * 2 + [0] * 8 + [1] * 1 + [0] * 9 + [0] * 10,
            "demo_requested": [True] * 20 + [False] * 20,
            "pricing_page_visits": [0] * 40,
            "seniority": ["vp"] * 40,
            "company_size": ["1-10"] * 40,
        }
    )
    grading = {"thresholds": {"A": 0.6, "B": 0.3, "C": 0.1}, "derivation": {"grades": {}}}
    metrics = {"leads": 40, "base_rate": 11 / 40, "roc_auc_ci_low": 0.7}
    report = contract_report(scored, contract, grading, metrics).to_json()
    a, b = report["grades"]["A"], report["grades"]["B"]
    assert a["conversion"] == 0.8 and a["conversions"] == 8
    assert a["share_of_conversions"] == pytest.approx(8 / 11)
    assert a["leads_per_month"] == pytest.approx(10 / (61 / (365.25 / 12)))
    assert a["lift"] == pytest.approx(0.8 / (11 / 40))
    assert a["verdicts"] == {"conversion": "kept", "capacity": "kept"}
    assert b["conversion"] == 0.2 and b["verdicts"] == {"conversion": "not kept"}
    assert "within the uncertainty" in b["note"]  # 2/10: the interval reaches 25 %
    assert report["grades"]["D"]["promise"] is None
    # marketing profile (demo or pricing 2+): the first 20 leads, 10 conversions -> 50 %
    assert report["profiles"]["marketing"]["conversion"] == 0.5
    assert report["profiles"]["sales"]["leads"] == 0
    gate = report["publish_gate"]
    assert gate["checks"]["min_positives"]["actual"] == 11
    assert not gate["checks"]["min_positives"]["passed"]  # 11 < 100
    assert gate["checks"]["margin_over_best_profile"]["actual"] == pytest.approx(0.3)
    assert not gate["publishable"]


def test_a_months_volume_of_snapshot_rows_counts_each_lead_once(default_params_raw):
    contract = parse_params(default_params_raw).contract
    # 10 leads at three snapshots (day 0, 7, 30) over 2 months: 4 leads are A at two
    # snapshots and 2 more at one; 10 A rows are 6 leads for sales
    day = [0, 7, 30] * 10
    lead = [f"L{n}" for n in range(10) for _ in range(3)]
    grade = ["A", "A", "B"] * 4 + ["A", "B", "B"] * 2 + ["C"] * 6 + ["D"] * 6
    scored = pd.DataFrame(
        {
            "lead_id": [f"{lead_id}@{days}" for lead_id, days in zip(lead, day, strict=True)],
            "scored_at": pd.to_datetime("2026-06-01") + pd.to_timedelta(day, unit="D"),
            "created_at": pd.to_datetime(["2026-06-01", "2026-07-31"] * 15),
            "grade": grade,
            "converted": [1] * 12 + [0] * 18,
        }
    )
    grading = {"thresholds": {"A": 0.6, "B": 0.3, "C": 0.1}, "derivation": {"grades": {}}}
    report = contract_report(scored, contract, grading, {"leads": 30}).to_json()
    months = 61 / (365.25 / 12)
    a = report["grades"]["A"]
    assert a["leads"] == 10  # snapshots: conversion is judged per snapshot
    assert a["leads_per_month"] == pytest.approx(6 / months)
    assert report["grades"]["D"]["leads_per_month"] == pytest.approx(2 / months)
    # without snapshots (no scored_at) every row is a lead
    rows = contract_report(scored.drop(columns="scored_at"), contract, grading, {"leads": 30})
    assert rows.to_json()["grades"]["A"]["leads_per_month"] == pytest.approx(10 / months)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("grades", "A", "min_conversion"), 1.5, "contract.grades.A.min_conversion"),
        (("grades", "A", "max_leads_per_month"), None, "A.max_leads_per_month"),
        (("grades", "B", "min_conversion"), 0.9, "min_conversion must decrease"),
        (("profiles", "sales", "rules"), [{"field": "x", "op": "like"}], "contract.profiles.sales"),
    ],
)
def test_malformed_contract_names_the_field(default_params_raw, path, value, named):
    import copy

    raw = copy.deepcopy(default_params_raw)
    node = raw["contract"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        parse_params(raw)
