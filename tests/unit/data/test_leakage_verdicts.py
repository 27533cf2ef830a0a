"""The leakage review's verdicts from hand-written evidence: each exclusion and review finding
on its boundary and in its words, the contract's sign-off, and the model's importance.
(The review of a generated export, end to end: test_leakage_review.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.data_params import LeakageParams
from leadscore.data.leakage import (
    EXCLUDED,
    KEPT,
    REVIEW,
    _id_like_values,
    awaiting_sign_off,
    exclusion_reasons,
    flagged,
    importance_shares,
    inputs_of,
    review_fields,
    review_reasons,
    verdict_row,
    with_importance,
)

LEAKAGE = LeakageParams()  # exclude from AUC 0.85, review from 0.75, recent from 0.6


def evidence(**changes) -> dict:
    """The evidence of an unremarkable numeric field."""
    return {
        "kind": "numeric",
        "distinct_values": 10,
        "after_creation_share": None,
        "present_share_converted": 1.0,
        "present_share_unconverted": 1.0,
        "single_field_auc": 0.6,
        "missing_auc": None,
        "name_cues": [],
        **changes,
    }


def test_an_unremarkable_field_has_no_reason_either_way():
    assert exclusion_reasons("visits", evidence(), 0.85, False) == []
    assert review_reasons(evidence(), 0.75, 0.85) == []


def test_a_constant_field_and_an_identifier_are_excluded():
    assert exclusion_reasons("flag", evidence(distinct_values=1), 0.85, False) == [
        "constant: one value (or none)"
    ]
    assert exclusion_reasons("flag", evidence(distinct_values=0), 0.85, False) == [
        "constant: one value (or none)"
    ]
    assert exclusion_reasons(" Prospect ID ", evidence(), 0.85, True) == [
        "identifier: id-like name"  # the name says it; uniqueness is not repeated
    ]
    assert exclusion_reasons("code", evidence(distinct_values=1234), 0.85, True) == [
        "identifier: unique per lead (1,234 values)"
    ]


def test_a_date_is_never_an_input_and_mostly_later_dates_are_post_creation():
    date = evidence(kind="date", after_creation_share=0.5)
    assert exclusion_reasons("first_call", date, 0.85, False) == ["a date: not a model input"]
    later = evidence(kind="date", after_creation_share=0.51)
    assert exclusion_reasons("first_call", later, 0.85, False) == [
        "post-creation date: after the lead's creation for 51%"
    ]
    undated = evidence(kind="date", after_creation_share=None)
    assert exclusion_reasons("first_call", undated, 0.85, False) == ["a date: not a model input"]


def test_a_field_present_for_one_outcome_only_is_excluded_at_the_bounds():
    deal = evidence(present_share_converted=0.05, present_share_unconverted=0.005)
    assert exclusion_reasons("deal_value", deal, 0.85, False) == [
        "present only for converted leads (5% vs 0.5%)"
    ]
    lost = evidence(present_share_converted=0.005, present_share_unconverted=0.05)
    assert exclusion_reasons("loss_reason", lost, 0.85, False) == [
        "present only for unconverted leads (5% vs 0.5%)"
    ]
    for converted, unconverted in ((0.049, 0.0), (0.05, 0.006), (None, None)):
        mixed = evidence(present_share_converted=converted, present_share_unconverted=unconverted)
        assert exclusion_reasons("value", mixed, 0.85, False) == []


def test_a_field_recorded_with_a_later_date_or_too_predictive_is_excluded():
    touched = evidence(recorded_with="first_contact_at")
    assert exclusion_reasons("touches", touched, 0.85, False) == [
        "post-contact: recorded only where first_contact_at (a later date) is"
    ]
    assert exclusion_reasons("x", evidence(single_field_auc=0.85), 0.85, False) == [
        "predicts the outcome alone too well (AUC 0.850 >= 0.85)"
    ]
    assert exclusion_reasons("x", evidence(single_field_auc=0.8499), 0.85, False) == []
    assert exclusion_reasons("x", evidence(single_field_auc=None), 0.85, False) == []


def test_strong_signal_and_telling_missingness_go_under_review_at_the_bounds():
    assert review_reasons(evidence(single_field_auc=0.75), 0.75, 0.85) == [
        "strong alone: single-field AUC 0.750 >= 0.75"
    ]
    assert review_reasons(evidence(single_field_auc=0.7499), 0.75, 0.85) == []
    assert review_reasons(evidence(single_field_auc=0.85), 0.75, 0.85) == []  # excluded instead
    assert review_reasons(evidence(single_field_auc=None), 0.75, 0.85) == []
    assert review_reasons(evidence(missing_auc=0.75), 0.75, 0.85) == [
        "missingness tracks the outcome: AUC 0.750 >= 0.75"
    ]
    assert review_reasons(evidence(missing_auc=0.7499), 0.75, 0.85) == []


def test_a_field_still_filled_in_and_a_name_cue_go_under_review():
    recent = evidence(
        recent_auc_ci_low=0.6, recent_auc=0.7, recent_by="missingness", recent_days=14
    )
    assert review_reasons(recent, 0.75, 0.85) == [
        "still filled in after creation: its missingness tells leads younger than 14 days at "
        "the export from older ones (AUC 0.700, 95 % interval from 0.600 >= 0.6)"
    ]
    assert review_reasons({**recent, "recent_auc_ci_low": 0.5999}, 0.75, 0.85) == []
    assert review_reasons({**recent, "recent_auc_ci_low": 0.65}, 0.75, 0.85, recent_low=0.7) == []
    cued = evidence(name_cues=["call", "meeting"])
    assert review_reasons(cued, 0.75, 0.85) == ["name cue call", "name cue meeting"]


def test_a_kept_row_is_an_input_without_a_sign_off():
    row = verdict_row("visits", evidence(), LEAKAGE, False, None, {})
    assert row["verdict"] == KEPT and row["reasons"] == []
    assert row["input"] is True and row["awaiting_sign_off"] is False
    assert row["allowed_by_contract"] is False and row["allowed_reason"] is None
    assert row["importance_share"] is None
    assert row["single_field_auc"] == 0.6  # the evidence is kept in the row


def test_a_row_under_review_awaits_the_contracts_sign_off():
    strong = evidence(single_field_auc=0.8)
    row = verdict_row("score", strong, LEAKAGE, False, None, {})
    assert row["verdict"] == REVIEW and row["input"] and row["awaiting_sign_off"]
    signed = verdict_row("score", strong, LEAKAGE, False, None, {"score": "known at entry"})
    assert signed["verdict"] == REVIEW and signed["input"] and not signed["awaiting_sign_off"]
    assert signed["allowed_by_contract"] and signed["allowed_reason"] == "known at entry"


def test_the_review_uses_the_configured_thresholds():
    strict = LeakageParams(
        max_single_field_auc=0.7, review_single_field_auc=0.6, review_recent_auc_lower_bound=0.9
    )
    assert verdict_row("s", evidence(single_field_auc=0.7), strict, False, None, {})["verdict"] == (
        EXCLUDED
    )
    assert verdict_row("s", evidence(single_field_auc=0.65), strict, False, None, {})[
        "reasons"
    ] == ["strong alone: single-field AUC 0.650 >= 0.6"]
    recent = evidence(
        single_field_auc=0.55,
        recent_auc_ci_low=0.8,
        recent_auc=0.9,
        recent_by="values",
        recent_days=7,
    )
    assert verdict_row("s", recent, strict, False, None, {})["verdict"] == KEPT
    assert verdict_row("s", recent, LEAKAGE, False, None, {})["verdict"] == REVIEW


def test_an_excluded_field_is_kept_when_the_contract_signs_it_off_but_not_by_configuration():
    strong = evidence(single_field_auc=0.9)
    row = verdict_row("score", strong, LEAKAGE, False, None, {"score": "known at entry"})
    assert row["verdict"] == EXCLUDED and row["input"] is True and not row["awaiting_sign_off"]
    configured = verdict_row(
        "score", strong, LEAKAGE, False, "excluded by data.exclude", {"score": "known at entry"}
    )
    assert configured["input"] is False
    assert configured["reasons"][0] == "excluded by data.exclude"  # configuration first
    assert configured["reasons"][1].startswith("predicts the outcome alone")
    date = verdict_row("signed_up", evidence(kind="date"), LEAKAGE, False, None, {"signed_up": ""})
    assert date["input"] is False


def test_a_behaviour_field_built_before_the_moment_is_kept_as_built():
    reason = "counted from events before the moment of scoring"
    strong = evidence(single_field_auc=0.9, name_cues=["call"])
    row = verdict_row("calls_7d", strong, LEAKAGE, False, None, {}, reason)
    assert row["verdict"] == KEPT and row["reasons"] == [reason]
    assert row["built_before_moment"] is True and row["input"] is True
    assert row["awaiting_sign_off"] is False and row["importance_share"] is None
    assert row["allowed_by_contract"] is False and row["allowed_reason"] is None
    allowed = verdict_row("calls_7d", strong, LEAKAGE, False, None, {"calls_7d": "why"}, reason)
    assert allowed["allowed_by_contract"] is True and allowed["allowed_reason"] == "why"
    # configuration and a constant field still exclude it
    configured = verdict_row("calls_7d", strong, LEAKAGE, False, "by config", {}, reason)
    assert configured["verdict"] == EXCLUDED and "built_before_moment" not in configured
    constant = verdict_row(
        "calls_7d", evidence(distinct_values=1), LEAKAGE, False, None, {}, reason
    )
    assert constant["verdict"] == EXCLUDED
    dated = verdict_row("last_call", evidence(kind="date"), LEAKAGE, False, None, {}, reason)
    assert dated["verdict"] == KEPT and dated["input"] is False


def test_id_like_values_are_text_or_whole_numbers():
    assert _id_like_values(pd.Series(["a", "b"]), "categorical")
    assert _id_like_values(pd.Series([1.0, 2.0, 3.0]), "numeric")
    assert not _id_like_values(pd.Series([1.0, 2.5]), "numeric")
    assert not _id_like_values(pd.Series(["1", "x"]), "numeric")  # unreadable: no number
    assert not _id_like_values(pd.Series([True, False]), "boolean")


def leads(n: int = 60) -> pd.DataFrame:
    y = np.arange(n) % 3 == 0
    return pd.DataFrame(
        {
            fields.CONVERTED: y,
            "code": [f"C{i:03d}" for i in range(n)],  # unique per lead
            "pages": np.arange(n) % 5,  # weak: kept
            "channel": np.where(np.arange(n) % 2 == 0, "email", "web"),
        }
    )


def test_the_review_of_a_table_gives_each_field_a_verdict_in_table_order():
    frame = leads()
    kinds = {"code": "categorical", "pages": "numeric", "channel": "categorical"}
    review = review_fields(frame, kinds, LEAKAGE, {"channel": "excluded by the contract"})
    assert list(review) == ["code", "pages", "channel"]
    assert review["code"]["verdict"] == EXCLUDED
    assert review["code"]["reasons"] == ["identifier: unique per lead (60 values)"]
    assert review["pages"]["verdict"] == KEPT and review["pages"]["input"]
    assert review["pages"]["recorded_with"] is None and review["pages"]["name_cues"] == []
    assert review["channel"]["reasons"][0] == "excluded by the contract"
    assert inputs_of(review) == {"pages": "numeric"}
    assert set(flagged(review)) == {"code", "channel"}
    assert flagged(review)["code"]["excluded"] is True
    assert flagged(review)["code"]["flags"] == review["code"]["reasons"]
    # 50 leads are too few to call a unique field an identifier
    few = review_fields(frame.head(50), {"code": "categorical"}, LEAKAGE)
    assert "identifier: unique per lead (50 values)" not in few["code"]["reasons"]
    allowed = review_fields(frame, {"code": "categorical"}, LEAKAGE, None, {"code": "why"})
    assert allowed["code"]["input"] and allowed["code"]["allowed_reason"] == "why"
    built = review_fields(frame, {"pages": "numeric"}, LEAKAGE, built_before={"pages": "b"})
    assert built["pages"]["reasons"] == ["b"]


def test_unique_values_with_a_repeat_are_not_an_identifier():
    frame = leads()
    frame.loc[1, "code"] = frame.loc[0, "code"]
    review = review_fields(frame, {"code": "categorical"}, LEAKAGE)
    assert not any(r.startswith("identifier") for r in review["code"]["reasons"])
    measures = frame.assign(code=np.linspace(0.5, 30.2, 60))  # unique but not whole numbers
    review = review_fields(measures, {"code": "numeric"}, LEAKAGE)
    assert not any(r.startswith("identifier") for r in review["code"]["reasons"])


def test_importance_shares_count_negative_drops_as_zero():
    assert importance_shares({"a": 3.0, "b": 1.0, "c": -2.0}) == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert importance_shares({"a": 0.0, "b": -1.0}) == {"a": 0.0, "b": 0.0}


def test_a_field_dominating_the_model_goes_under_review_unless_built_before():
    review = {
        "a": verdict_row("a", evidence(), LEAKAGE, False, None, {}),
        "b": verdict_row("b", evidence(), LEAKAGE, False, None, {"b": "known"}),
        "c": verdict_row("c", evidence(), LEAKAGE, False, None, {}, "built before"),
        "d": verdict_row("d", evidence(), LEAKAGE, False, None, {}),
    }
    shares = {"a": 0.61234, "b": 0.6, "c": 0.7, "d": 0.5}
    done = with_importance(review, shares, ["a", "b", "c", "d"], {"b": "known"}, 0.5)
    assert done["a"]["verdict"] == REVIEW and done["a"]["importance_share"] == 0.6123
    assert done["a"]["reasons"] == [
        "dominates the model: 61% of its permutation importance (more than 50%)"
    ]
    assert review["a"]["reasons"] == [] and review["a"]["verdict"] == KEPT  # not changed
    assert done["a"]["awaiting_sign_off"] and not done["b"]["awaiting_sign_off"]
    assert done["b"]["allowed_by_contract"] and done["b"]["allowed_reason"] == "known"
    assert done["c"]["verdict"] == KEPT  # built before the moment: cannot leak
    assert done["d"]["verdict"] == KEPT and done["d"]["reasons"] == []  # exactly at the share
    assert awaiting_sign_off(done) == ["a"]
    unused = with_importance(review, shares, ["b"], {}, 0.5)
    assert unused["a"]["input"] is False and unused["a"]["importance_share"] is None
    assert unused["a"]["awaiting_sign_off"] is False
    assert unused["b"]["allowed_by_contract"] is False and unused["b"]["awaiting_sign_off"] is True
    assert unused["b"]["allowed_reason"] is None  # the contract now: no longer allowed
    unmeasured = with_importance(review, None, ["a"], {}, 0.5)
    assert unmeasured["a"]["importance_share"] is None and unmeasured["a"]["verdict"] == KEPT


def test_a_field_still_filled_in_is_judged_on_every_lead_open_ones_included():
    decided = pd.DataFrame(
        {
            fields.CONVERTED: np.arange(40) % 2 == 0,
            fields.CREATED_AT: pd.Timestamp("2026-03-01"),  # five days before the newest lead
            "region": ["north"] * 20 + ["south"] * 20,
        }
    )
    young = pd.DataFrame(
        {fields.CONVERTED: False, fields.CREATED_AT: [pd.Timestamp("2026-03-06")] * 30}
    )
    every = pd.concat([decided, young], ignore_index=True)  # open leads: no region yet
    review = review_fields(decided, {"region": "categorical"}, LEAKAGE, every=every)
    assert review["region"]["recent_by"] == "missingness" and review["region"]["recent_days"] == 3
    assert review["region"]["reasons"][-1].startswith("still filled in after creation")
    alone = review_fields(decided, {"region": "categorical"}, LEAKAGE)  # one age: nothing to tell
    assert alone["region"]["recent_by"] is None


def test_two_values_are_not_constant_and_a_built_field_with_two_is_kept_as_built():
    assert exclusion_reasons("flag", evidence(distinct_values=2), 0.85, False) == []
    row = verdict_row("calls_7d", evidence(distinct_values=2), LEAKAGE, False, None, {}, "built")
    assert row["verdict"] == KEPT and row["reasons"] == ["built"]


def test_the_review_names_cues_and_unique_whole_numbers_from_51_leads():
    frame = leads(51).assign(call_count=np.arange(51) % 5, serial=np.arange(51))
    kinds = {"call_count": "numeric", "serial": "numeric", "code": "categorical"}
    review = review_fields(frame, kinds, LEAKAGE)
    assert "name cue post-contact: 'call'" in review["call_count"]["reasons"]
    assert review["call_count"]["name_cues"] == ["post-contact: 'call'"]
    assert review["serial"]["reasons"][0] == "identifier: unique per lead (51 values)"
    assert review["code"]["reasons"] == ["identifier: unique per lead (51 values)"]


def test_a_date_gets_no_recorded_with_finding():
    n = 60
    created = pd.Series(pd.to_datetime(["2026-01-01"] * n))
    later = pd.Series(
        pd.to_datetime([f"2026-01-{2 + i % 20:02d}" for i in range(40)] + [None] * 20)
    )
    frame = pd.DataFrame(
        {
            fields.CONVERTED: np.arange(n) % 2 == 0,
            fields.CREATED_AT: created,
            "first_contact": later,
            "second_at": later,
        }
    )
    review = review_fields(frame, {"first_contact": "date", "second_at": "date"}, LEAKAGE)
    assert "recorded_with" not in review["first_contact"]
    assert not any(r.startswith("post-contact") for r in review["first_contact"]["reasons"])
