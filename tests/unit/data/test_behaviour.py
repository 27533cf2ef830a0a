"""Behaviour features (leadscore.data.behaviour): one definition, events strictly before the
moment of scoring, and no event after a lead's decision point can change a training feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.core import fields
from leadscore.core.contract import ScoringMoment
from leadscore.core.data_params import BehaviourParams
from leadscore.data import behaviour
from leadscore.data.behaviour import (
    EVENT_AT,
    EVENT_LEAD,
    EVENT_TYPE,
    EVENT_VALUE,
    SCORED_AT,
    EventsError,
)

SPEC = BehaviourParams(types=("web_page", "demo_request"), windows_days=(7, 30), half_life_days=7)
T0 = pd.Timestamp("2026-01-01")


def _events(rows):
    return pd.DataFrame(rows, columns=[EVENT_LEAD, EVENT_AT, EVENT_TYPE, EVENT_VALUE])


def _leads(n=3):
    return pd.DataFrame(
        {
            fields.LEAD_ID: [f"L{i}" for i in range(n)],
            fields.CREATED_AT: [T0 + pd.Timedelta(days=i) for i in range(n)],
            fields.WON_AT: [pd.NaT] * n,
            fields.CONVERTED: [False] * n,
        }
    )


def test_counts_recency_engagement_and_touches_before_the_moment():
    events = _events(
        [
            ("L0", T0 - pd.Timedelta(days=40), "web_page", 1.0),
            ("L0", T0 - pd.Timedelta(days=14), "Demo_Request ", np.nan),
            ("L0", T0 - pd.Timedelta(days=7), "webinar", np.nan),  # not declared: other
            ("L0", T0, "web_page", np.nan),  # at the moment itself: does not count
            ("L0", T0 + pd.Timedelta(days=1), "demo_request", np.nan),  # after: never counts
            ("L1", T0 - pd.Timedelta(days=2), "web_page", np.nan),
        ]
    )
    events = behaviour.normalise_events(events)
    leads = pd.Series(["L0", "L1", "L2"])
    moments = pd.Series([T0, T0, T0])
    created = pd.Series([T0 - pd.Timedelta(days=60)] * 3)
    out = behaviour.behaviour_features(events, leads, moments, created, SPEC)
    assert list(out.columns) == list(behaviour.feature_kinds(SPEC))
    assert out.loc[0, "web_page_events"] == 1 and out.loc[0, "web_page_events_30d"] == 0
    assert out.loc[0, "demo_request_events"] == 1 and out.loc[0, "demo_request_events_30d"] == 1
    assert out.loc[0, "demo_request_events_7d"] == 0
    assert out.loc[0, "other_events_7d"] == 1  # 7 days before: inside the 7-day window
    assert out.loc[0, "days_since_last_event"] == 7
    assert out.loc[0, "engagement"] == pytest.approx(0.5**0.0 * 0 + 0.5 + 0.25 + 0.5 ** (40 / 7))
    assert out.loc[0, "first_event_type"] == "web_page"
    assert out.loc[0, "latest_event_type"] == "other"
    assert out.loc[1, "latest_event_type"] == "web_page"
    assert out.loc[2, "first_event_type"] == "none" and np.isnan(out.loc[2, RECENCY])
    assert out.loc[2, "engagement"] == 0
    assert out.loc[0, "lead_age_days"] == 60


RECENCY = behaviour.RECENCY


def test_an_event_table_without_a_time_is_refused_with_counts():
    events = _events([("L0", "not a date", "web_page", None), (None, T0, "x", None)])
    with pytest.raises(EventsError, match="no lead key: 1, no readable time: 1"):
        behaviour.normalise_events(events)


def test_moments_creation_plus_days_and_stage_date():
    leads = _leads(2).assign(mql_at=[T0 + pd.Timedelta(days=3), pd.NaT])
    plus = behaviour.scoring_moments(leads, ScoringMoment(at="creation_plus_days", days=5))
    assert list(plus) == [T0 + pd.Timedelta(days=5), T0 + pd.Timedelta(days=6)]
    stage = behaviour.scoring_moments(leads, ScoringMoment(at="stage_date", column="mql_at"))
    assert stage.iloc[0] == T0 + pd.Timedelta(days=3) and pd.isna(stage.iloc[1])


def test_snapshots_are_labelled_from_the_snapshot_by_the_outcome_rule():
    leads = _leads(2)
    leads.loc[0, fields.WON_AT] = T0 + pd.Timedelta(days=95)  # within 90 days of day 7 and 30
    leads.loc[1, fields.WON_AT] = T0 + pd.Timedelta(days=3)  # won before its day-7 snapshot
    events = behaviour.normalise_events(_events([("L0", T0, "web_page", None)]))
    table = behaviour.snapshots(leads, events, SPEC, None, 90, T0 + pd.Timedelta(days=400))
    by_id = table.set_index(fields.LEAD_ID)
    assert not by_id.loc["L0@0", fields.CONVERTED]  # 95 days after creation
    assert by_id.loc["L0@7", fields.CONVERTED] and by_id.loc["L0@30", fields.CONVERTED]
    assert by_id.loc["L1@0", fields.CONVERTED]
    assert "L1@7" not in by_id.index and "L1@30" not in by_id.index
    assert by_id.loc["L0@7", "web_page_events"] == 1 and by_id.loc["L0@0", "web_page_events"] == 0
    assert by_id.loc["L0@30", SCORED_AT] == T0 + pd.Timedelta(days=30)


def test_snapshots_whose_window_is_open_at_the_export_are_left_out():
    leads = _leads(1)
    events = behaviour.normalise_events(_events([("L0", T0, "web_page", None)]))
    table = behaviour.snapshots(leads, events, SPEC, None, 90, T0 + pd.Timedelta(days=100))
    assert list(table[fields.LEAD_ID]) == ["L0@0", "L0@7"]


EVENT_TYPES = ("web_page", "demo_request", "webinar")
N_LEADS = 4
HORIZON = 120  # days after creation the events may fall


@st.composite
def event_logs(draw):
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, N_LEADS - 1),
                st.integers(-30 * 24, HORIZON * 24),  # hours from creation
                st.sampled_from(EVENT_TYPES),
            ),
            max_size=40,
        )
    )
    return [(f"L{lead}", hour, kind) for lead, hour, kind in rows]


def _log_frame(rows, leads):
    created = leads.set_index(fields.LEAD_ID)[fields.CREATED_AT]
    return behaviour.normalise_events(
        _events(
            [
                (lead, created[lead] + pd.Timedelta(hours=hour), kind, None)
                for lead, hour, kind in rows
            ]
        )
    )


def _training_features(rows, leads):
    table = behaviour.snapshots(
        leads, _log_frame(rows, leads), SPEC, None, 30, T0 + pd.Timedelta(days=500)
    )
    return table.set_index(fields.LEAD_ID)


@settings(max_examples=60, deadline=None)
@given(
    rows=event_logs(),
    after=st.lists(
        st.tuples(
            st.integers(0, N_LEADS - 1), st.integers(0, 400 * 24), st.sampled_from(EVENT_TYPES)
        ),
        max_size=10,
    ),
    shift_hours=st.integers(0, 300 * 24),
    drop=st.booleans(),
)
def test_events_after_a_decision_point_never_change_a_training_feature(
    rows, after, shift_hours, drop
):
    """Add events after, remove or shift the events after a lead's decision point (the moment
    of its latest snapshot at most; each snapshot sees only its own past)."""
    leads = _leads(N_LEADS)
    before = _training_features(rows, leads)
    last = max(SPEC.snapshot_days) * 24
    # a snapshot at day d must not see events at hour >= 24 d; touch only those after day 30
    kept = [r for r in rows if r[1] < last]
    later = [r for r in rows if r[1] >= last]
    changed = kept + ([] if drop else [(lead, h + shift_hours, k) for lead, h, k in later])
    changed += [(f"L{lead}", last + hour, kind) for lead, hour, kind in after]
    again = _training_features(changed, leads)
    pd.testing.assert_frame_equal(before, again)


@settings(max_examples=40, deadline=None)
@given(rows=event_logs(), day=st.sampled_from(SPEC.snapshot_days), extra=st.integers(0, 200 * 24))
def test_each_snapshot_ignores_what_came_after_its_own_moment(rows, day, extra):
    leads = _leads(N_LEADS)
    before = _training_features(rows, leads)
    added = rows + [(f"L{i}", day * 24 + extra, "demo_request") for i in range(N_LEADS)]
    again = _training_features(added, leads)
    own = before.index.str.endswith(f"@{day}")
    pd.testing.assert_frame_equal(before.loc[own], again.loc[own])


def test_the_wrong_flag_counts_events_after_the_decision_point():
    leads = _leads(1)
    rows = [("L0", 24 * 50, "demo_request")]
    wrong = SPEC.model_copy(update={"count_after_decision": True})
    events = _log_frame(rows, leads)
    honest = behaviour.snapshots(leads, events, SPEC, None, 30, T0 + pd.Timedelta(days=500))
    leaky = behaviour.snapshots(leads, events, wrong, None, 30, T0 + pd.Timedelta(days=500))
    assert honest["demo_request_events"].sum() == 0
    assert (leaky["demo_request_events"] == 1).all()


def test_the_definition_and_the_moment_are_checked_where_they_are_declared():
    from leadscore.core.config import parse_params
    from leadscore.core.params_file import ParamsError

    with pytest.raises(ValueError, match="at least 1"):
        BehaviourParams(windows_days=(0, 7))
    with pytest.raises(ValueError, match="distinct"):
        BehaviourParams(snapshot_days=(7, 7))
    with pytest.raises(ValueError, match="column"):
        ScoringMoment(at="stage_date")
    with pytest.raises(ValueError, match="days is for"):
        ScoringMoment(at="creation", days=3)
    with pytest.raises(ParamsError, match="data.events.lead_column"):
        parse_params({"contract": None, "data": {"events": {"files": [{"path": "a.csv"}]}}})


@settings(max_examples=150, deadline=None)
@given(
    rows=event_logs(),
    moment_minutes=st.integers(-40 * 24 * 60, 200 * 24 * 60),
    created_known=st.booleans(),
)
def test_the_one_lead_path_computes_what_the_frame_path_computes(
    rows, moment_minutes, created_known
):
    """The API's record path (`lead_features`) and the frame path (`behaviour_features`) give
    every feature the same value: counts, windows and touches exactly, the float features to
    the last bits (the same operations in the same order), for any event log and moment."""
    leads = _leads(N_LEADS)
    events = _log_frame(rows, leads)
    moment = T0 + pd.Timedelta(minutes=moment_minutes)
    created = (
        leads[fields.CREATED_AT]
        if created_known
        else leads[fields.CREATED_AT].map(lambda _: pd.NaT)
    )
    frame = behaviour.behaviour_features(
        events, leads[fields.LEAD_ID], pd.Series(moment, index=leads.index), created, SPEC
    )
    for i, lead in enumerate(leads[fields.LEAD_ID]):
        own = events[events[EVENT_LEAD] == lead]
        record = behaviour.lead_features(
            own[EVENT_AT].to_numpy("datetime64[ns]").astype("int64").tolist(),
            own[EVENT_TYPE].tolist(),
            created.iloc[i].value if created_known else None,
            moment.value,
            SPEC,
        )
        assert list(record) == list(frame.columns)
        for name, value in record.items():
            expected = frame.iloc[i][name]
            if value is None:
                assert pd.isna(expected), name
            elif isinstance(value, str):
                assert value == expected, name
            else:
                assert value == pytest.approx(expected, rel=1e-13, abs=1e-300), name


def test_the_one_lead_path_decays_engagement_by_the_half_life():
    day = behaviour.NS_PER_DAY
    spec = BehaviourParams(types=("web_page",), windows_days=(7,), half_life_days=14)
    at = [T0.value, T0.value + day]
    now = behaviour.lead_features(
        at, ["web_page", "pricing_page"], T0.value, T0.value + 2 * day, spec
    )
    later = behaviour.lead_features(
        at, ["web_page", "pricing_page"], T0.value, T0.value + 16 * day, spec
    )
    assert now[behaviour.ENGAGEMENT] == pytest.approx(0.5 ** (2 / 14) + 0.5 ** (1 / 14))
    assert later[behaviour.ENGAGEMENT] == pytest.approx(now[behaviour.ENGAGEMENT] / 2)
    assert (now["web_page_events"], now["other_events"], now["web_page_events_7d"]) == (1, 1, 1)
    assert later["web_page_events_7d"] == 0 and later[behaviour.RECENCY] == 15
    assert (later[behaviour.FIRST_TYPE], later[behaviour.LATEST_TYPE]) == ("web_page", "other")
    assert later[behaviour.LEAD_AGE] == 16
