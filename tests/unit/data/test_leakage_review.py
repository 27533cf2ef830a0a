"""The leakage review (evidence, three verdicts, sign-off); a publish gate fair at any base rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from exports import export_frame, sigmoid
from stages import agreed_by_both

from leadscore.core import fields
from leadscore.core.config import parse_params
from leadscore.core.data_params import LeakageParams
from leadscore.core.params_file import ParamsError
from leadscore.data.dates import NUMERIC_DATE
from leadscore.data.field_kinds import infer_kinds
from leadscore.data.leakage import (
    EXCLUDED,
    KEPT,
    REVIEW,
    awaiting_sign_off,
    importance_shares,
    inputs_of,
    review_fields,
    review_reasons,
    with_importance,
)
from leadscore.data.leakage_auc import out_of_fold_scores, text_groups
from leadscore.data.leakage_evidence import name_cues
from leadscore.views.contract import contract_report

LEAKAGE = LeakageParams()


# --- evidence and verdicts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cue"),
    [
        ("Do Not Call", "'call'"),
        ("TotalVisits", "'visit'"),
        ("Last Notable Activity", "'last notable activit'"),
        ("sales_touches", "'touch'"),
        ("lead_stage", "'stage'"),
        ("LeadStatus", "'status'"),
    ],
)
def test_post_contact_words_are_found_in_any_spelling(name, cue):
    assert any(cue in found for found in name_cues(name))


@pytest.mark.parametrize(
    "name", ["email_opens", "content_downloads", "Lead Origin", "company_size", "demo_requested"]
)
def test_ordinary_names_carry_no_cue(name):
    assert name_cues(name) == []


@pytest.fixture(scope="module")
def typed_export() -> tuple[pd.DataFrame, dict[str, str]]:
    """The export typed as ingest types it, plus an id, a copy of the outcome and a deal value."""
    raw = export_frame(4000, seed=3)
    y = raw["Converted"].eq("yes")
    frame = pd.DataFrame(
        {
            fields.CONVERTED: y,
            fields.CREATED_AT: pd.to_datetime(raw["Created"]),
            "crm_ref": raw["Lead Key"],
            "page_views": raw["page_views"].astype(float),
            "previous_campaign_outcome": raw["previous_campaign_outcome"],
            "call_minutes": raw["call_minutes"],
            "engagement_index": raw["call_minutes"],  # the same in-contact measure, plain name
            "meeting_room": raw["meeting_room"],
            "follow_up_date": pd.to_datetime(raw["follow_up_date"]),
            "deal_amount": np.where(y, 1000.0, np.nan),
            "enrolled": np.where(y, "Y", "N"),
        }
    )
    kinds = {
        "crm_ref": "categorical",
        "page_views": "numeric",
        "previous_campaign_outcome": "categorical",
        "call_minutes": "numeric",
        "engagement_index": "numeric",
        "meeting_room": "categorical",
        "follow_up_date": "date",
        "deal_amount": "numeric",
        "enrolled": "categorical",
    }
    return frame, kinds


@pytest.fixture(scope="module")
def review(typed_export) -> dict[str, dict]:
    return review_fields(*typed_export, LEAKAGE)


def test_every_field_gets_a_row_of_evidence(review, typed_export):
    assert list(review) == list(typed_export[1])
    row = review["call_minutes"]
    assert row["auc_ci_low"] < row["single_field_auc"] < row["auc_ci_high"]
    assert row["auc_ci_high"] - row["auc_ci_low"] < 0.05  # 4,000 leads: a narrow interval
    assert review["deal_amount"]["missing_auc"] == 1.0
    assert review["follow_up_date"]["after_creation_share"] == 1.0
    for name, row in review.items():
        assert row["verdict"] in (EXCLUDED, REVIEW, KEPT), name
        assert row["verdict"] == KEPT or row["reasons"], name


def test_a_field_measured_during_the_contact_needs_review(review):
    for name in ("call_minutes", "engagement_index"):
        row = review[name]
        assert 0.76 <= row["single_field_auc"] <= 0.84, row["single_field_auc"]
        assert row["verdict"] == REVIEW and row["input"] and row["awaiting_sign_off"], name
        assert any(r.startswith("strong alone") for r in row["reasons"])
    assert review["engagement_index"]["name_cues"] == []  # caught by its signal, not its name


def test_a_post_contact_name_without_signal_needs_review_not_exclusion(review):
    row = review["meeting_room"]
    assert row["single_field_auc"] < 0.56
    assert row["verdict"] == REVIEW and row["input"]
    assert row["reasons"] == ["name cue post-contact: 'meeting'"]


def test_an_earlier_interaction_is_never_excluded_for_its_name(review):
    row = review["previous_campaign_outcome"]
    assert 0.55 < row["single_field_auc"] < LEAKAGE.review_single_field_auc
    assert row["verdict"] == REVIEW and row["input"]
    assert all(reason.startswith("name cue") for reason in row["reasons"])


def test_certain_cases_are_excluded(review):
    assert review["crm_ref"]["verdict"] == EXCLUDED
    assert "identifier: unique per lead" in review["crm_ref"]["reasons"][0]
    assert review["follow_up_date"]["reasons"] == [
        "post-creation date: after the lead's creation for 100%",
        "name cue post-contact: 'follow up'",
    ]
    assert "present only for converted leads (100% vs 0.0%)" in review["deal_amount"]["reasons"]
    assert review["enrolled"]["reasons"][0].startswith("predicts the outcome alone too well")
    assert review["page_views"]["verdict"] == KEPT
    assert not any(review[n]["input"] for n in ("crm_ref", "follow_up_date", "deal_amount"))


def test_configuration_and_the_contract_decide_last(typed_export):
    review = review_fields(
        *typed_export,
        LEAKAGE,
        excluded={"page_views": "excluded by the contract (contract.excluded_fields)"},
        allowed={"call_minutes": "logged by the dialler before the lead is scored", "enrolled": ""},
    )
    assert review["page_views"]["verdict"] == EXCLUDED and not review["page_views"]["input"]
    call = review["call_minutes"]
    assert call["verdict"] == REVIEW and call["allowed_by_contract"]
    assert not call["awaiting_sign_off"]
    assert review["enrolled"]["input"]  # a signed-off field is kept even when excluded


def test_behaviour_built_before_the_moment_of_scoring_is_kept_without_a_sign_off(typed_export):
    """A field built from activity events strictly before the moment of scoring cannot leak:
    kept with that reason, whatever its strength or name; configuration still excludes, and a
    constant one is still excluded; without the mark it is judged on the evidence."""
    before = "built from activity events strictly before the moment of scoring (creation)"
    frame, kinds = typed_export
    frame = frame.assign(web_visit_events=0.0)
    kinds = {**kinds, "web_visit_events": "numeric"}
    review = review_fields(
        frame,
        kinds,
        LEAKAGE,
        excluded={"page_views": "excluded by the contract (contract.excluded_fields)"},
        built_before={n: before for n in ("call_minutes", "meeting_room", "page_views",
                                          "web_visit_events")},
    )  # fmt: skip
    for name in ("call_minutes", "meeting_room"):
        row = review[name]
        assert row["verdict"] == KEPT and row["reasons"] == [before], name
        assert row["input"] and not row["awaiting_sign_off"] and row["built_before_moment"]
    assert review["page_views"]["verdict"] == EXCLUDED
    assert review["web_visit_events"]["verdict"] == EXCLUDED  # constant
    dominant = with_importance(review, {"call_minutes": 0.9, "meeting_room": 0.1},
                               ["call_minutes", "meeting_room"], {}, 0.5)  # fmt: skip
    assert dominant["call_minutes"]["verdict"] == KEPT
    assert review_fields(frame, kinds, LEAKAGE)["call_minutes"]["verdict"] == REVIEW


def test_a_field_that_dominates_the_model_goes_under_review(review):
    shares = importance_shares({"page_views": 0.07, "previous_campaign_outcome": 0.02,
                                "meeting_room": -0.001})  # fmt: skip
    assert shares["page_views"] == pytest.approx(0.07 / 0.09)
    assert shares["meeting_room"] == 0.0
    inputs = ("page_views", "previous_campaign_outcome", "meeting_room")
    done = with_importance(review, shares, inputs, {}, LEAKAGE.max_importance_share)
    assert done["page_views"]["verdict"] == REVIEW
    assert done["page_views"]["reasons"] == [
        "dominates the model: 78% of its permutation importance (more than 50%)"
    ]
    assert done["call_minutes"]["importance_share"] is None  # not an input of this model
    assert awaiting_sign_off(done) == ["page_views", "previous_campaign_outcome", "meeting_room"]
    allowed = {"page_views": "web analytics", "previous_campaign_outcome": "earlier campaign",
               "meeting_room": "booked before the contact"}  # fmt: skip
    signed = with_importance(review, shares, inputs, allowed, LEAKAGE.max_importance_share)
    assert awaiting_sign_off(signed) == []


# --- configuration -------------------------------------------------------------------------


def test_allowed_fields_take_a_reason_or_a_plain_name(default_params_raw):
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["contract"]["allowed_fields"] = ["Do Not Call", {"field": "TotalVisits", "reason": "web"}]
    contract = parse_params(raw).contract
    assert contract.allowed == {"Do Not Call": "", "TotalVisits": "web"}
    raw["contract"]["allowed_fields"] = ["sales_status"]
    with pytest.raises(ParamsError, match="both allowed and excluded: sales_status"):
        parse_params(raw)
    raw["contract"]["allowed_fields"] = [{"reason": "no field"}]
    with pytest.raises(ParamsError, match=r"contract\.allowed_fields\.0\.field"):
        parse_params(raw)


def test_the_review_threshold_sits_below_the_exclusion_threshold():
    with pytest.raises(ValueError, match="must not exceed max_single_field_auc"):
        LeakageParams(max_single_field_auc=0.8, review_single_field_auc=0.9)


def test_the_default_contract_signs_off_every_built_in_field_under_review(default_params_raw):
    contract = parse_params(default_params_raw).contract
    assert set(contract.allowed) == {
        "website_visits",
        "pages_per_visit",
        "pricing_page_visits",
        "days_since_last_activity",
    }
    assert all(len(reason) > 20 for reason in contract.allowed.values())


# --- the publish gate at any base rate -----------------------------------------------------


def scored_period(base_rate: float, a_conversion: float, n: int = 2000, seed: int = 0):
    """A hand-built graded test period: 10 % of leads graded A converting at `a_conversion`."""
    rng = np.random.default_rng(seed)
    n_a = n // 10
    rest = (base_rate * n - a_conversion * n_a) / (n - n_a)
    converted = np.concatenate([rng.random(n_a) < a_conversion, rng.random(n - n_a) < rest])
    grades = ["A"] * n_a + list(rng.choice(["B", "C", "D"], n - n_a))
    return pd.DataFrame(
        {
            fields.CREATED_AT: pd.date_range("2026-06-01", periods=n, freq="45min"),
            "grade": grades,
            fields.CONVERTED: converted.astype(int),
            "demo_requested": False,
            "pricing_page_visits": 0,
            "seniority": "vp",
            "company_size": "1-10",
        }
    )


def gate_of(scored: pd.DataFrame, raw: dict) -> dict:
    contract = parse_params(raw).contract
    grading = {"thresholds": {"A": 0.6, "B": 0.3, "C": 0.1}, "derivation": {"grades": {}},
               "agreement": agreed_by_both(contract)}  # fmt: skip
    metrics = {"leads": len(scored), "base_rate": scored[fields.CONVERTED].mean(),
               "roc_auc_ci_low": 0.7}  # fmt: skip
    return contract_report(scored, contract, grading, metrics).to_json()


@pytest.mark.parametrize(("a_conversion", "passes"), [(0.9, True), (0.6, False)])
def test_the_odds_rule_at_a_60_percent_base_rate(default_params_raw, a_conversion, passes):
    """A good model's A grade (90 %) passes; a useless one's (the base rate) does not."""
    report = gate_of(scored_period(0.6, a_conversion), default_params_raw)
    check = report["publish_gate"]["checks"]["odds_ratio_over_base_rate"]
    base = report["base_rate"]
    assert check["required_a_conversion"] == pytest.approx(2.5 * 1.5 / (1 + 2.5 * 1.5), abs=0.02)
    assert check["passed"] is passes and report["publish_gate"]["publishable"] is passes
    a = report["grades"]["A"]["conversion"]
    assert check["actual"] == pytest.approx((a / (1 - a)) / (base / (1 - base)))
    assert "at any base rate" in check["explanation"]


def test_the_old_lift_rule_says_when_it_cannot_be_reached(default_params_raw):
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["contract"]["publish_gate"]["min_lift_over_base_rate"] = 2.0
    report = gate_of(scored_period(0.6, 0.95), raw)
    lift = report["publish_gate"]["checks"]["lift_over_base_rate"]
    assert not lift["passed"]
    assert "cannot be reached at a base rate of" in lift["explanation"]
    assert "the largest possible lift is 1 / base rate = 1.6" in lift["explanation"]
    assert report["publish_gate"]["checks"]["odds_ratio_over_base_rate"]["passed"]


def test_at_a_low_base_rate_the_odds_rule_reads_like_a_lift(default_params_raw):
    report = gate_of(scored_period(0.05, 0.15, n=6000), default_params_raw)
    check = report["publish_gate"]["checks"]["odds_ratio_over_base_rate"]
    assert 0.115 < check["required_a_conversion"] < 0.12  # 2.4x the base rate
    assert check["passed"]


# --- in-process pipeline: the in-contact field blocks publishing until signed off ----------


# --- sales follow-up fields are caught by their evidence, whatever they are called ---------


def follow_up_export(n: int, seed: int) -> pd.DataFrame:
    """A CRM snapshot with what sales records once it works a lead, under plain names.

    `handled_by` (the owner), `activity_count` (sales touches) and `first_reply` (first-contact
    timestamp) exist only once sales has contacted the lead, so for the leads created in the
    last days before the export they are still empty. Prompt follow-up raises the chance of
    converting; converted leads were touched more often.
    """
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 420, n), unit="D")
    export = created.max()
    worked = rng.random(n) < 0.85
    delay = pd.to_timedelta(rng.exponential(40, n), unit="h")
    contacted = worked & (created + delay <= export)
    page_views = rng.poisson(4, n)
    prompt = contacted & (delay < pd.Timedelta(hours=24))
    converted = rng.random(n) < sigmoid(-1.6 + 0.25 * (page_views - 4) + 0.5 * prompt)
    age_days = (export - created).days.to_numpy()
    touches = 1 + rng.poisson(np.minimum(age_days, 30) / 30 * (1.5 + 1.5 * converted))
    return pd.DataFrame(
        {
            fields.CREATED_AT: created,
            fields.CONVERTED: converted,
            "page_views": page_views.astype(float),
            "Source": rng.choice(["web", "event", "partner"], n),
            "handled_by": np.where(contacted, rng.choice(["ana", "ben", "chloe", "dev"], n), None),
            "activity_count": np.where(contacted, touches, np.nan),
            "first_reply": np.where(
                contacted, (created + delay).strftime("%Y-%m-%d %H:%M:%S"), None
            ),
        }
    )


def test_sales_follow_up_fields_are_caught_by_their_evidence_not_their_names():
    frame = follow_up_export(12000, seed=5)  # 29 leads a day, as a mid-sized B2B CRM
    kinds = {
        name: kind
        for name, kind in infer_kinds(frame, {}).items()
        if name not in (fields.CREATED_AT, fields.CONVERTED)
    }
    assert kinds["first_reply"] == "date"  # dated values, whatever the column is called
    frame["first_reply"] = pd.to_datetime(frame["first_reply"])
    assert not any(name_cues(name) for name in kinds)  # no name gives them away
    review = review_fields(frame, kinds, LEAKAGE)
    assert review["first_reply"]["verdict"] == EXCLUDED and not review["first_reply"]["input"]
    assert review["first_reply"]["reasons"][0].startswith("post-creation date: after the lead's")
    for name in ("handled_by", "activity_count"):  # recorded exactly where the first reply is
        row = review[name]
        assert row["verdict"] == EXCLUDED and not row["input"], (name, row)
        assert "post-contact: recorded only where first_reply (a later date) is" in row["reasons"]
        assert any(r.startswith("still filled in after creation") for r in row["reasons"])
    # an export without the first-reply date: still filled in after creation puts them under review
    without = review_fields(
        frame.drop(columns=["first_reply"]),
        {name: kind for name, kind in kinds.items() if name != "first_reply"},
        LEAKAGE,
    )
    for name in ("handled_by", "activity_count"):
        row = without[name]
        assert row["verdict"] == REVIEW and row["awaiting_sign_off"], (name, row)
        assert row["recent_auc_ci_low"] >= LEAKAGE.review_recent_auc_lower_bound, row
    assert without["handled_by"]["recent_by"] == "missingness"
    for name in ("page_views", "Source"):  # known when the lead came in: no sign of filling in
        assert review[name]["verdict"] == KEPT, review[name]
    assert review["page_views"]["recent_auc_ci_low"] < 0.55
    assert review["Source"]["recent_auc"] is None  # never missing; a category mix may drift


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["a", None, "b", "a", "(missing)", " a"], dtype="str"),
        pd.Series([0.0, -0.0, np.nan, 1.5, 1.5, 0.1 + 0.2, 0.3]),
        pd.Series([True, None, False, True], dtype="boolean"),
        pd.Series([1, "1", True, None, 1.0], dtype=object),
        pd.Series([3, None, 3, 7], dtype="Int64"),
    ],
)
def test_leads_are_grouped_by_their_value_as_text(values):
    text = values.astype("string").fillna("(missing)").to_numpy()
    expected = pd.factorize(text)[0]
    found = text_groups(values)
    assert (pd.crosstab(found, expected).gt(0).sum(axis=1) == 1).all()  # never two texts
    assert (pd.crosstab(expected, found).gt(0).sum(axis=1) == 1).all()  # nor one text split


def test_out_of_fold_scores_are_each_value_s_rate_in_the_other_folds():
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    fold = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    values = pd.Series(["a", "a", "a", "b", "b", "c", "c", None], dtype="str")
    scores = out_of_fold_scores(values, "categorical", y, fold)
    # lead 0 (fold 0, a): fold 1 holds one 'a', converted; lead 5 (fold 1, c): fold 0 holds one
    # 'c', unconverted; lead 7 (missing, fold 1): fold 0 has no missing value, so its base rate
    assert scores.tolist() == [1.0, 1.0, 0.5, 1.0, 0.0, 0.0, 1.0, 2 / 4]


@pytest.mark.parametrize("written", ["13-02-2026", "13.02.26", "02/13/2026 "])
def test_the_review_and_the_export_reader_see_the_same_numeric_dates(written):
    from leadscore.data.dates import detect_dayfirst

    values = pd.Series([written] * 60 + ["01/01/2026"] * 40)
    assert detect_dayfirst(values) is not None or values.str.match(NUMERIC_DATE).all()
    assert infer_kinds(pd.DataFrame({"batch": values}), {}) == {"batch": "date"}
    mixed = pd.Series([written] * 97 + ["n/a", "soon", "tbd"])  # 97 %: not a date column
    assert infer_kinds(pd.DataFrame({"batch": mixed}), {}) == {"batch": "categorical"}


def test_a_configured_exclusion_wins_over_the_contract_s_sign_off(typed_export):
    # an export's deal value is never an input (data.value_column), even if the contract lists
    # it among the fields known at the moment of scoring
    reason = "excluded by configuration: deal value or lead cost (data.value_column, cost_column)"
    review = review_fields(
        *typed_export,
        LEAKAGE,
        excluded={"deal_amount": reason, "page_views": reason},
        allowed={"deal_amount": "typed in by marketing", "page_views": "web analytics"},
    )
    for name in ("deal_amount", "page_views"):  # one excluded by evidence too, one not
        row = review[name]
        assert row["allowed_by_contract"] and row["reasons"][0] == reason, name
        assert row["verdict"] == EXCLUDED and not row["input"], name
    assert "deal_amount" not in inputs_of(review) and "page_views" not in inputs_of(review)


def evidence_filled_in(auc: float, low: float) -> dict:
    """A field's evidence where only the comparison of the newest leads with older ones speaks."""
    return {
        "single_field_auc": 0.55,
        "missing_auc": None,
        "recent_auc": auc,
        "recent_auc_ci_low": low,
        "recent_days": 7,
        "recent_by": "missingness",
        "name_cues": [],
    }


def test_still_filled_in_is_judged_on_the_lower_end_of_the_interval():
    bound = LEAKAGE.review_recent_auc_lower_bound  # 0.6
    # a strong point AUC whose interval reaches below the bound (few young leads): not enough
    assert review_reasons(evidence_filled_in(0.70, bound - 0.01), 0.75, 0.85, bound) == []
    (reason,) = review_reasons(evidence_filled_in(0.70, bound), 0.75, 0.85, bound)
    assert reason.startswith("still filled in after creation: its missingness tells leads")
    assert "95 % interval from 0.600 >= 0.6" in reason
