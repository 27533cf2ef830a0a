"""POST /v1/events (issue 30): a lead's activity events appended on the scoring-log database,
idempotent by event id, committed before the answer, and read back in the normal form that
behaviour features are computed from."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import API_KEY

from leadscore.core.data_params import BehaviourParams
from leadscore.data import behaviour
from leadscore.scoring.events_store import EventStore

pytestmark = pytest.mark.server
KEY = {"X-API-Key": API_KEY}
EVENTS = [
    {"event_id": "a1", "lead_id": "L-1", "occurred_at": "2026-06-01T10:00",
     "event_type": "web_page",
     "event_value": 3.5},
    {"event_id": "a2", "lead_id": "L-1", "occurred_at": "2026-06-03T09:00Z",
     "event_type": " Demo_Request "},
    {"event_id": "a3", "lead_id": "L-2", "occurred_at": "2026-06-02T12:00+02:00",
     "event_type": "email_open"},
]  # fmt: skip


@pytest.fixture()
def server_and_store(start_server, tiny_bundle_dir, tmp_path):
    server = start_server(tiny_bundle_dir)
    store = EventStore(f"sqlite:///{tmp_path / 'scoring_log.db'}")
    yield server, store
    store.close()


def test_events_are_stored_once_and_read_back_in_the_normal_form(server_and_store):
    server, store = server_and_store
    first = server.client.post("/v1/events", json={"events": EVENTS}, headers=KEY)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 3, "stored": 3, "duplicates": 0}
    again = server.client.post("/v1/events", json={"events": EVENTS[:2] * 2}, headers=KEY)
    assert again.json() == {"received": 4, "stored": 0, "duplicates": 4}
    events = store.events_of(["L-1", "L-2", "L-3"]).sort_values(behaviour.EVENT_AT)
    assert list(events[behaviour.EVENT_LEAD]) == ["L-1", "L-2", "L-1"]
    assert list(events[behaviour.EVENT_TYPE]) == ["web_page", "email_open", "demo_request"]
    assert events[behaviour.EVENT_AT].iloc[1] == pd.Timestamp("2026-06-02T10:00")  # UTC
    leads = pd.DataFrame({"lead_id": ["L-1"], "created_at": [pd.Timestamp("2026-05-30")]})
    features = behaviour.features_as_of(
        leads, events, BehaviourParams(), pd.Timestamp("2026-06-03T09:00")
    )
    assert features.loc[0, "web_page_events"] == 1  # the demo request at 09:00 is not before
    assert features.loc[0, "demo_request_events"] == 0


def test_an_event_id_with_another_payload_stores_nothing_of_the_request(server_and_store):
    server, store = server_and_store
    assert server.client.post("/v1/events", json={"events": EVENTS}, headers=KEY).status_code == 200
    changed = {**EVENTS[0], "event_type": "pricing_page"}
    new = {**EVENTS[2], "event_id": "a9"}
    answer = server.client.post("/v1/events", json={"events": [new, changed]}, headers=KEY)
    assert answer.status_code == 409
    assert answer.json()["event_ids"] == ["a1"]
    assert len(store.events_of(["L-1", "L-2"])) == 3  # a9 was not stored either


def test_bad_events_and_missing_keys_are_refused(server_and_store):
    server, _ = server_and_store
    bad = {k: v for k, v in EVENTS[0].items() if k != "occurred_at"}
    answer = server.client.post("/v1/events", json={"events": [bad]}, headers=KEY)
    assert answer.status_code == 422
    assert "occurred_at" in answer.text
    assert server.client.post("/v1/events", json={"events": EVENTS}).status_code == 401
