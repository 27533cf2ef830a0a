"""Sales' follow-up in the generated world: recorded as a CRM records it, it really changes the
chance of converting, and the leakage review keeps it out of the model by evidence."""

from __future__ import annotations

import pandas as pd

from leadscore.core import fields
from leadscore.core.business_hours import add_business_hours, business_hours_between

FOLLOW_UP = (fields.FIRST_CONTACT_AT, fields.SALES_TOUCHES, fields.OWNER)


def test_business_hours_skip_nights_and_weekends():
    friday_evening = pd.Series(pd.to_datetime(["2026-11-20 17:00", "2026-11-20 20:00"]))
    monday = pd.Series(pd.to_datetime(["2026-11-23 10:00", "2026-11-23 09:30"]))
    assert business_hours_between(friday_evening, monday).tolist() == [2.0, 0.5]
    created = pd.Series(pd.to_datetime(["2026-11-21", "2026-11-24"]))  # a Saturday, a Tuesday
    later = add_business_hours(created, [1.0, 24.0])
    assert later.tolist() == [pd.Timestamp("2026-11-23 10:00"), pd.Timestamp("2026-11-26 15:00")]
    assert business_hours_between(created, later).tolist() == [1.0, 24.0]


def test_the_crm_records_follow_up(tiny_crm):
    leads = tiny_crm.leads
    worked = leads[fields.FIRST_CONTACT_AT].notna()
    assert 0.02 < 1 - worked.mean() < 0.3  # some leads are never worked
    assert (leads.loc[worked, fields.FIRST_CONTACT_AT] > leads.loc[worked, fields.CREATED_AT]).all()
    assert (leads.loc[worked, fields.SALES_TOUCHES] >= 1).all()
    assert (leads.loc[~worked, fields.SALES_TOUCHES] == 0).all()
    assert leads.loc[worked, fields.OWNER].notna().all()
    assert leads.loc[~worked, fields.OWNER].isna().all()
    won = leads[fields.WON_AT].notna()
    assert worked[won].all()  # no deal is won without a first contact ...
    assert (leads.loc[won, fields.WON_AT] > leads.loc[won, fields.FIRST_CONTACT_AT]).all()


def test_follow_up_speed_changes_conversion(tiny_crm, tiny_split):
    closed = pd.concat([tiny_split.train, tiny_split.valid, tiny_split.test])
    hours = business_hours_between(closed[fields.CREATED_AT], closed[fields.FIRST_CONTACT_AT])
    truth = tiny_crm.truth.set_index(fields.LEAD_ID)["true_probability"]
    # compare like with like: the ratio of actual conversion to the pre-contact truth
    expected = closed[fields.LEAD_ID].map(truth).to_numpy()
    frame = pd.DataFrame({"won": closed[fields.CONVERTED].to_numpy(), "expected": expected})
    speed = pd.cut(hours.to_numpy(), [0, 24, 45, 1e9], labels=["prompt", "late", "very late"])
    frame["speed"] = speed.add_categories("never").fillna("never")
    ratio = frame.groupby("speed", observed=True).sum()
    ratio = ratio["won"] / ratio["expected"]
    assert ratio["prompt"] > 1.0 > ratio["late"] > ratio["very late"]
    assert ratio["never"] == 0


def test_follow_up_fields_are_excluded_by_evidence(reviewed, tiny_params):
    _, kept, flagged = reviewed  # the follow-up fields are not configured: evidence only
    assert not set(FOLLOW_UP) & set(kept)
    assert "post-creation date" in " ".join(flagged[fields.FIRST_CONTACT_AT]["flags"])
    for name in (fields.SALES_TOUCHES, fields.OWNER):
        assert f"recorded only where {fields.FIRST_CONTACT_AT}" in " ".join(flagged[name]["flags"])
    assert f"recorded only where {fields.WON_AT}" in " ".join(flagged[fields.DEAL_VALUE]["flags"])
    assert set(fields.CATEGORICAL_FEATURES + fields.NUMERIC_FEATURES) <= set(kept)
