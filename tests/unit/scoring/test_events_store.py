"""The activity event store (leadscore.scoring.events_store) on real SQLite and PostgreSQL:
idempotent by event id, nothing stored on a conflict, and the events a lead's behaviour is
computed from, stored and sent merged with each id once."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from leadscore.core.data_params import BehaviourParams
from leadscore.data import behaviour
from leadscore.scoring.events_store import ActivityEvent, EventConflict, EventStore


def _event(event_id, lead="L-1", day=1, kind="web_page", value=None):
    return ActivityEvent(
        event_id=event_id,
        lead_id=lead,
        occurred_at=datetime(2026, 6, day, 10),
        event_type=kind,
        event_value=value,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.server)])
def store(request, tmp_path):
    """On both databases: the one-lead read aggregates each lead's events in the database's
    own JSON (json_group_array, json_agg)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'log.db'}"
    else:
        request.getfixturevalue("postgres")
        url = request.getfixturevalue("pg_database")
    events = EventStore(url)
    yield events
    events.close()


def test_appending_is_idempotent_by_event_id(store):
    first = store.append([_event("a"), _event("b", day=2, kind="Demo_Request")])
    assert (first.stored, first.duplicates) == (2, 0)
    again = store.append([_event("a"), _event("a"), _event("c", lead="L-2")])
    assert (again.received, again.stored, again.duplicates) == (3, 1, 2)
    events = store.events_of(["L-1"])
    assert sorted(events[behaviour.EVENT_TYPE]) == ["demo_request", "web_page"]


def test_a_changed_payload_is_a_conflict_and_stores_nothing(store):
    store.append([_event("a")])
    with pytest.raises(EventConflict) as caught:
        store.append([_event("n", lead="L-9"), _event("a", kind="pricing_page")])
    assert caught.value.event_ids == ["a"]
    with pytest.raises(EventConflict):
        store.append([_event("x"), _event("x", value=2.0)])  # within one request
    assert store.events_of(["L-9"]).empty and len(store.events_of(["L-1"])) == 1


def test_sent_events_join_the_stored_ones_each_id_once(store):
    store.append([_event("a", day=1), _event("b", day=2, kind="demo_request")])
    sent = [_event("b", day=2, kind="demo_request"), _event("s", day=3, kind="pricing_page")]
    events = store.events_of(["L-1"], sent)
    assert len(events) == 3
    leads = pd.DataFrame({"lead_id": ["L-1"], "created_at": [pd.Timestamp("2026-05-20")]})
    now = pd.Timestamp("2026-06-10")
    features = behaviour.features_as_of(leads, events, BehaviourParams(), now)
    assert features.loc[0, "demo_request_events"] == 1
    assert features.loc[0, "pricing_page_events_7d"] == 1
    assert features.loc[0, "latest_event_type"] == "pricing_page"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"occurred_at": "0001-01-01T00:00:00+00:44"}, "out of range"),
        ({"occurred_at": "1985-06-01T10:00"}, "before 1990"),
        ({"occurred_at": "2999-06-01T10:00"}, "in the future"),
        ({"lead_id": "L\ud800"}, "unicode"),
        ({"event_type": " \x00 "}, "NUL"),
    ],
)
def test_an_event_no_crm_can_send_is_refused_naming_its_field(change, message):
    from pydantic import ValidationError

    sent = {"event_id": "a", "lead_id": "L-1", "occurred_at": "2026-06-01T10:00"}
    with pytest.raises(ValidationError, match=message):
        ActivityEvent.model_validate({**sent, "event_type": "web_page", **change})


def test_histories_are_what_the_frame_path_counts_from(store):
    """The one-lead path reads the same events as `events_of` (stored and sent, each id once)
    and computes the same features from them as the frame path."""
    store.append([_event("a", day=1), _event("b", day=2, kind="Demo_Request", value=2.0)])
    store.append([_event("c", lead="L-2", day=3)])
    sent = [_event("b", day=2, kind="demo_request", value=2.0), _event("s", day=4, kind="x")]
    histories = store.histories(["L-1", "L-2", "L-3"], sent)
    assert sorted(histories) == ["L-1", "L-2"]  # L-3 has no event
    assert sorted(histories["L-1"].kinds) == ["demo_request", "web_page", "x"]
    spec, now = BehaviourParams(), pd.Timestamp("2026-06-10")
    created = pd.Timestamp("2026-05-20")
    leads = pd.DataFrame({"lead_id": ["L-1"], "created_at": [created]})
    frame = behaviour.features_as_of(leads, store.events_of(["L-1"], sent), spec, now)
    one = behaviour.lead_features(
        histories["L-1"].times_ns, histories["L-1"].kinds, created.value, now.value, spec
    )
    expected = frame.iloc[0].to_dict()
    texts = (behaviour.FIRST_TYPE, behaviour.LATEST_TYPE)
    assert [one.pop(name) for name in texts] == [expected.pop(name) for name in texts]
    assert one[behaviour.RECENCY] == 6 - 10 / 24  # the sent event of June 4, 10:00
    assert one == pytest.approx(expected, rel=1e-13)


def test_a_database_that_cannot_answer_is_unavailable_within_the_timeout(tmp_path):
    import asyncio

    from leadscore.scoring.events_store import EventsUnavailable

    (tmp_path / "not-a-database").mkdir()
    store = EventStore(f"sqlite:///{tmp_path / 'not-a-database'}", timeout_seconds=1)
    try:
        with pytest.raises(EventsUnavailable, match="cannot be stored now|did not answer"):
            asyncio.run(store.histories_async(["L-1"], []))
    finally:
        store.close()


def test_moments_to_the_microsecond_and_every_lead_of_a_read(store):
    """The aggregated read gives each lead its own events with exact times, on either
    database's text for a timestamp."""
    at = datetime(2026, 6, 1, 10, 11, 12, 345678)
    store.append([_event("a", lead="L-1"), _event("b", lead="L-2", kind="Demo_Request")])
    store.append([ActivityEvent(event_id="c", lead_id="L-2", occurred_at=at, event_type="x")])
    histories = store.histories(["L-2", "L-1", "L-2"])
    assert sorted(histories["L-2"].times_ns) == sorted(
        [pd.Timestamp(at).value, pd.Timestamp("2026-06-01 10:00").value]
    )
    assert sorted(histories["L-2"].kinds) == ["demo_request", "x"]
    assert histories["L-1"].kinds == ["web_page"]
    assert store.histories(["nobody"]) == {}
