"""The activity event store (leadscore.scoring.events_store) on a real SQLite database:
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


@pytest.fixture()
def store(tmp_path):
    events = EventStore(f"sqlite:///{tmp_path / 'log.db'}")
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
