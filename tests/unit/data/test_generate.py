"""Data tests of the built-in CRM generator: shape, realism, and a truth worth learning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.core import fields
from leadscore.data.crm_world import NOISE_FIELDS, STRONGEST_FIELDS
from leadscore.data.generate import generate_crm


def test_columns_ids_and_allowed_values(tiny_crm):
    leads = tiny_crm.leads
    assert tuple(leads.columns) == fields.LEAD_COLUMNS
    assert leads["lead_id"].is_unique
    assert set(leads["channel"]) == set(fields.CHANNELS)
    assert set(leads["company_size"]) <= set(fields.COMPANY_SIZES)
    assert set(leads["seniority"]) <= set(fields.SENIORITIES)
    assert (leads["email_clicks"] <= leads["email_opens"]).all()
    assert leads["annual_revenue"].isna().mean() == pytest.approx(0.30, abs=0.05)


def test_seniority_and_department_follow_job_title(tiny_crm):
    per_title = tiny_crm.leads.groupby("job_title")[["seniority", "department"]].nunique()
    assert (per_title == 1).all().all()


def test_outcomes_are_consistent(tiny_crm, tiny_params):
    leads = tiny_crm.leads
    window = pd.Timedelta(days=tiny_params.contract.outcome.window_days)
    won = leads["won_at"].notna()
    assert (leads.loc[won, "won_at"] >= leads.loc[won, "created_at"]).all()
    converted = leads["converted"]
    assert won[converted].all()
    assert (leads.loc[converted, "won_at"] <= leads.loc[converted, "created_at"] + window).all()
    assert leads.loc[converted, "deal_value"].gt(0).all()
    assert (leads.loc[converted, "sales_status"] != "open").all()


def test_truth_is_separate_and_complete(tiny_crm):
    truth = tiny_crm.truth
    assert list(truth.columns) == ["lead_id", "true_probability"]
    assert truth["lead_id"].tolist() == tiny_crm.leads["lead_id"].tolist()
    assert truth["true_probability"].between(0, 1).all()
    assert "true_probability" not in tiny_crm.leads


def test_world_worth_learning(tiny_crm, tiny_split):
    closed = pd.concat([tiny_split.train, tiny_split.valid, tiny_split.test])
    truth = tiny_crm.truth.set_index("lead_id")["true_probability"].reindex(closed["lead_id"])
    assert 0.05 <= closed["converted"].mean() <= 0.15
    assert 0.80 <= roc_auc_score(closed["converted"], truth) <= 0.92


def test_noise_field_has_no_effect_and_strong_fields_do(tiny_crm):
    frame = tiny_crm.leads.assign(p=tiny_crm.truth["true_probability"].to_numpy())
    for field in NOISE_FIELDS:
        means = frame.groupby(field)["p"].mean()
        assert means.max() - means.min() < 0.01
    by_demo = frame.groupby("demo_requested")["p"].mean()
    assert by_demo[True] > 2 * by_demo[False]
    assert set(STRONGEST_FIELDS) <= set(fields.LEAD_COLUMNS)


def test_deterministic_for_a_seed():
    first = generate_crm(500, 24, "2026-10-31", 90, seed=3)
    again = generate_crm(500, 24, "2026-10-31", 90, seed=3)
    other = generate_crm(500, 24, "2026-10-31", 90, seed=4)
    pd.testing.assert_frame_equal(first.leads, again.leads)
    np.testing.assert_array_equal(first.truth["true_probability"], again.truth["true_probability"])
    assert not first.leads["website_visits"].equals(other.leads["website_visits"])
