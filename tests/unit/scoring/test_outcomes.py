"""The outcome events' rules, defined once (leadscore.scoring.outcomes) and stored in one
transaction (leadscore.scoring.outcome_store): plausible values and dates, conflicts by event
id, contradictions, leads never scored; on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from leadscore.scoring.log import ScoringLog
from leadscore.scoring.log_table import rows_for
from leadscore.scoring.outcome_store import (
    OutcomeConflict,
    OutcomeRefused,
    OutcomeStore,
    OutcomesUnavailable,
    unique_in_batch,
)
from leadscore.scoring.outcomes import (
    EVENTS,
    contradictory_leads,
    events_from_table,
    never_scored,
    outcomes_frame,
    read_events,
    same_event,
    validation_context,
)

NOW = datetime(2026, 12, 1, 12, 0)


def events(*items: dict, skew: float = 300.0) -> list:
    return EVENTS.validate_python(list(items), context=validation_context(skew, NOW))


def won(event_id: str, lead_id: str, value: float, at: str = "2026-07-01T09:00") -> dict:
    return {"event_id": event_id, "lead_id": lead_id, "kind": "won", "occurred_at": at,
            "value": value}  # fmt: skip


def test_the_future_ends_at_now_plus_the_skew():
    assert events(won("a", "L", 1, "2026-12-01T12:04:59"))  # within 5 minutes
    with pytest.raises(ValidationError, match="in the future"):
        events(won("a", "L", 1, "2026-12-01T12:05:01"))
    assert events(won("a", "L", 1, "2026-12-01T13:00"), skew=3600)  # a configured skew
    with pytest.raises(ValidationError, match="in the future"):  # an offset counts
        events(won("a", "L", 1, "2026-12-01T13:00:00+00:30"))


def test_values_are_finite_numbers_and_not_booleans():
    for value in (float("inf"), float("nan"), True, False, "inf"):
        with pytest.raises(ValidationError):
            events(won("a", "L", value))
    assert events(won("a", "L", "12000"))[0].value == 12000.0  # a number as text, as CSV has it


def test_contradictions():
    found = contradictory_leads([
        ("A", "won", 10.0), ("A", "lost", None),  # won and lost
        ("B", "won", 10.0), ("B", "won", 20.0),  # two wins, different values
        ("C", "won", 10.0), ("C", "won", 10.0),  # the same win twice: not a contradiction
        ("D", "lost", None), ("D", "lost", None), ("E", "touch", None),
    ])  # fmt: skip
    assert found == ["A", "B"]
    assert never_scored(["B", "A", "Z", "Z"], ["A", "B"]) == ["Z"]


def test_an_id_twice_in_a_batch():
    same = events(won("a", "L", 5), won("a", "L", 5))
    assert len(unique_in_batch(same)[0]) == 1 and unique_in_batch(same)[1] == []
    assert unique_in_batch(events(won("a", "L", 5), won("a", "L", 6)))[1] == ["a"]


def test_a_stored_row_with_a_zone_is_the_same_event():
    (event,) = events(won("a", "L", 5, "2026-07-01T09:00+02:00"))
    stored = {**event.model_dump(), "occurred_at": datetime(2026, 7, 1, 7, tzinfo=UTC)}
    assert same_event(event, stored)
    assert not same_event(event, {**stored, "value": 6.0})


def test_the_store_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    scoring_log = ScoringLog(url, tmp_path / "journal")
    scoring_log.record(rows_for(["L-1"], [0.5], [50], ["B"], "m-1", "c-1", "api"))
    assert scoring_log.flush()
    store = OutcomeStore(url)
    try:
        first = store.record(events(won("a", "L-1", 5), won("b", "L-2", 7)), "api")
        assert (first.stored, first.duplicates, first.never_scored) == (2, 0, ["L-2"])
        again = store.record(events(won("a", "L-1", 5)), "api")
        assert (again.stored, again.duplicates) == (0, 1)
        with pytest.raises(OutcomeConflict) as conflict:
            store.record(events(won("c", "L-3", 1), won("a", "L-1", 6)), "api")
        assert conflict.value.event_ids == ["a"]
        created = {
            "event_id": "d",
            "lead_id": "L-1",
            "kind": "touch",
            "occurred_at": "2026-06-02T00:00",
            "lead_created_at": "2026-06-01T00:00",
        }
        store.record(events(created), "api")
        early = {**created, "event_id": "e", "occurred_at": "2026-05-31T00:00",
                 "lead_created_at": None}  # fmt: skip
        with pytest.raises(OutcomeRefused, match="before the lead's creation"):
            store.record(events(won("f", "L-9", 1), early), "api")
        old = {"event_id": "h", "lead_id": "L-5", "kind": "touch", "occurred_at": "2026-05-01"}
        store.record(events(old), "api")
        later = {**created, "event_id": "i", "lead_id": "L-5"}  # says L-5 was created after "h"
        store.record(events(later), "api")
        assert store.record(events(old), "api").duplicates == 1  # a replay, not refused
        lost = {"event_id": "g", "lead_id": "L-1", "kind": "lost",
                "occurred_at": "2026-07-03T00:00", "reason": "budget"}  # fmt: skip
        assert store.record(events(lost), "api").contradictory == ["L-1"]
    finally:
        store.close()
        scoring_log.close()
    assert sorted(read_events(url)["event_id"]) == ["a", "b", "d", "g", "h", "i"]  # no refused


def test_contradictory_leads_have_no_outcome_in_the_frame():
    table = pd.DataFrame([
        {**won("a", "A", 10.0), "reason": None}, {**won("b", "B", 10.0), "reason": None},
        {"event_id": "c", "lead_id": "B", "kind": "lost", "occurred_at": "2026-07-02T00:00",
         "value": None, "reason": "no budget"},
    ])  # fmt: skip
    table["lead_created_at"] = pd.Timestamp("2026-06-01")
    table["occurred_at"] = pd.to_datetime(table["occurred_at"])
    frame = outcomes_frame(table, pd.DataFrame(), window_days=90)
    assert frame["lead_id"].tolist() == ["A"] and frame["converted"].tolist() == [1]


def test_an_import_table_under_the_same_rules():
    rows = pd.DataFrame([won("a", "L", 5.0), won("b", "L", float("inf"))])
    with pytest.raises(ValidationError) as error:
        events_from_table(rows, validation_context(now=NOW))
    assert error.value.errors()[0]["loc"] == (1, "value")
    late = pd.DataFrame([won("a", "L", 5.0, (NOW + timedelta(days=1)).isoformat())])
    with pytest.raises(ValidationError, match="in the future"):
        events_from_table(late, validation_context(now=NOW))


def test_a_stuck_writer_bounds_the_wait_and_the_queue(tmp_path):
    """While the only writer is stuck, a caller gives up after the timeout (its queued events are
    never stored), and with the backlog full the next one is refused at once."""
    import threading

    url = f"sqlite:///{tmp_path / 'log.db'}"
    store = OutcomeStore(url, timeout_seconds=0.2, writers=1, backlog=2)
    started, release = threading.Event(), threading.Event()

    def stuck_on_the_database(leads: list[str]) -> list[str]:
        started.set()
        release.wait()
        return []

    stuck = store.submit(events(won("a", "L-1", 5)), "api", scored=stuck_on_the_database)
    assert started.wait(10)  # the writer holds "a"
    try:
        with pytest.raises(OutcomesUnavailable, match="did not answer within 0.2 s"):
            store.record(events(won("b", "L-2", 5)), "api")  # queued, given up: holds a place
        queued = store.submit(events(won("c", "L-3", 5)), "api")
        with pytest.raises(OutcomesUnavailable, match="every writer is waiting") as refused:
            store.submit(events(won("d", "L-4", 5)), "api")
        assert refused.value.retry_after == 1
    finally:
        release.set()
    assert stuck.result(10).stored == 1 and queued.result(10).stored == 1
    store.close()
    assert sorted(read_events(url)["event_id"]) == ["a", "c"]
