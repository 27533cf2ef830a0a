"""The built-in CRM's activity log (generate.events): behind an option that leaves the built-in
data as it was, a truth per snapshot that is what happens, and the contract's business hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.core.contract import ScoringMoment
from leadscore.core.data_params import BehaviourParams
from leadscore.data import behaviour
from leadscore.data.generate import generate_crm, generated_snapshots

EXPORT = "2026-10-31"


@pytest.fixture(scope="module")
def with_events():
    return generate_crm(12_000, 24, EXPORT, 90, seed=5, events=True)


def test_events_off_leaves_the_lead_fields_and_the_world_as_they_were(with_events):
    plain = generate_crm(12_000, 24, EXPORT, 90, seed=5)
    assert plain.activity is None and plain.events is None
    outcome = [fields.CONVERTED, fields.WON_AT, fields.DEAL_VALUE, "sales_status"]
    outcome += [fields.SALES_TOUCHES]  # deals that close take more touches
    pd.testing.assert_frame_equal(
        plain.leads.drop(columns=outcome), with_events.leads.drop(columns=outcome)
    )


def test_the_log_holds_events_after_the_export_never_and_after_creation_mostly(with_events):
    events = with_events.events
    assert set(events.columns) == set(behaviour.EVENT_COLUMNS)
    assert events[behaviour.EVENT_AT].max() <= pd.Timestamp(EXPORT)
    created = with_events.leads.set_index(fields.LEAD_ID)[fields.CREATED_AT]
    after = (
        events[behaviour.EVENT_AT].to_numpy()
        >= created.reindex(events[behaviour.EVENT_LEAD]).to_numpy()
    )
    assert 0.5 < after.mean() < 1  # anonymous visits before the lead came in, then the rest


def test_won_leads_are_won_after_creation_and_the_lead_label_is_the_outcome_rule(with_events):
    leads = with_events.leads
    won = leads[fields.WON_AT].notna()
    assert (leads.loc[won, fields.WON_AT] > leads.loc[won, fields.CREATED_AT]).all()
    within = leads[fields.WON_AT] <= leads[fields.CREATED_AT] + pd.Timedelta(days=90)
    assert (leads[fields.CONVERTED] == (won & within)).all()


@pytest.mark.parametrize("moment", [None, ScoringMoment(at="creation_plus_days", days=3)])
def test_the_truth_of_each_snapshot_is_what_happens(with_events, moment):
    """The exact truth: over each snapshot day, the mean true probability is the observed
    conversion rate within its binomial noise, and the truth ranks the outcomes."""
    table, truth = generated_snapshots(with_events, BehaviourParams(), moment, 90, EXPORT)
    assert (truth[fields.LEAD_ID] == table[fields.LEAD_ID]).all()
    day = behaviour.snapshot_day(table[fields.LEAD_ID])
    for value in sorted(day.unique()):
        mine = (day == value).to_numpy()
        y = table[fields.CONVERTED].to_numpy(float)[mine]
        p = truth["true_probability"].to_numpy()[mine]
        noise = np.sqrt((p * (1 - p)).sum()) / mine.sum()
        assert abs(y.mean() - p.mean()) < 4 * noise, value
        assert p[y == 1].mean() > p[y == 0].mean() + 0.05


def test_the_truth_never_counts_events_after_the_snapshot(with_events):
    wrong = BehaviourParams(count_after_decision=True)
    _, honest = generated_snapshots(with_events, BehaviourParams(), None, 90, EXPORT)
    leaky_table, leaky_truth = generated_snapshots(with_events, wrong, None, 90, EXPORT)
    pd.testing.assert_frame_equal(honest, leaky_truth)
    assert leaky_table["web_page_events"].sum() > 0


def test_follow_up_runs_in_the_contracts_business_hours():
    crm = generate_crm(3_000, 6, EXPORT, 90, seed=1, business_hours=(10, 16))
    contact = crm.leads[fields.FIRST_CONTACT_AT].dropna()
    hours = contact.dt.hour + contact.dt.minute / 60
    assert hours.between(10, 16).all() and hours.max() > 15
    default = generate_crm(3_000, 6, EXPORT, 90, seed=1)
    assert (default.leads[fields.FIRST_CONTACT_AT].dropna().dt.hour >= 16).any()
