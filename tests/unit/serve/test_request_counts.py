"""The key and length pre-check reads each request's own list: a score request's leads, an
outcomes request's events (a 500 once, when it assumed every request held leads)."""

from __future__ import annotations

import orjson
import pytest

from leadscore.scoring.outcomes import OutcomeBatch
from leadscore_serve.limits import CappedValidationError, check_counts

EVENT = {"event_id": "e1", "lead_id": "L-1", "kind": "won", "occurred_at": "2026-07-01T09:00Z"}


def test_events_within_their_schema_go_to_the_validator():
    check_counts(orjson.dumps({"events": [EVENT]}), OutcomeBatch)


def test_an_event_with_thousands_of_unknown_keys_gets_a_capped_error():
    event = {**EVENT, **{f"k{i}": i for i in range(5000)}}
    with pytest.raises(CappedValidationError) as raised:
        check_counts(orjson.dumps({"events": [event]}), OutcomeBatch)
    errors, total = raised.value.args
    assert total == 5000 and len(errors) == 100
    assert errors[0]["loc"] == ("body", "events", 0, "k0")
