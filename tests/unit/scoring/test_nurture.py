"""The nurture view (leadscore.scoring.nurture): crossings into and out of A in a period, with
the events between the two scores, computed by hand; and read back from a real SQLite
scoring-log database (the service's scoring log and event store)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from leadscore.scoring.crossings import INTO_A, OUT_OF_A, Scoring, Touch, crossings
from leadscore.scoring.events_store import ActivityEvent, EventStore
from leadscore.scoring.log import ScoringLog
from leadscore.scoring.log_table import rows_for
from leadscore.scoring.nurture import nurture_of

T0 = datetime(2026, 8, 1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_crossings_in_the_period_with_the_events_between_the_two_scores():
    scorings = [
        Scoring("up", day(0), 60, "B"), Scoring("up", day(5), 90, "A"),
        Scoring("down", day(1), 91, "A"), Scoring("down", day(6), 40, "C"),
        Scoring("stays", day(0), 95, "A"), Scoring("stays", day(6), 92, "A"),
        Scoring("old", day(-20), 50, "B"), Scoring("old", day(-10), 90, "A"),  # before since
        Scoring("twice", day(2), 90, "A"), Scoring("twice", day(3), 50, "B"),
        Scoring("twice", day(4), 91, "A"),
    ]  # fmt: skip
    touches = {
        "up": [
            Touch("u0", day(-1), "web_page"),  # before the earlier score: it saw it already
            Touch("u2", day(3), "demo_request"),
            Touch("u1", day(0), "pricing_page"),  # at the earlier moment: after it, counted
            Touch("u3", day(5), "webinar"),  # at the later moment: not seen by it
        ],
        "down": [Touch("d1", day(-3), "email_open")],
    }
    found = crossings(scorings, touches, since=day(-7), until=day(7))
    summary = [(c.lead_id, c.direction, c.current.scored_at) for c in found]
    assert summary == [
        ("down", OUT_OF_A, day(6)),
        ("up", INTO_A, day(5)),
        ("twice", INTO_A, day(4)),
        ("twice", OUT_OF_A, day(3)),
    ]
    assert [t.event_id for t in found[1].events] == ["u1", "u2"]
    assert found[0].events == []  # moved by time alone: decay
    record = found[1].record()
    assert (record["previous_grade"], record["grade"], record["score"]) == ("B", "A", 90)
    assert record["events"][1] == {
        "event_id": "u2", "occurred_at": "2026-08-04T00:00:00", "event_type": "demo_request",
        "event_value": None,
    }  # fmt: skip
    assert crossings(scorings, touches, since=day(5), until=day(6)) == [found[0]]


def _wait_for_rows(url: str, n: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    deadline = time.monotonic() + 20
    try:
        while True:
            with engine.connect() as connection:
                try:
                    count = connection.exec_driver_sql("SELECT count(*) FROM scored_leads")
                    if count.scalar() >= n:
                        return
                except sa.exc.OperationalError:
                    pass
            assert time.monotonic() < deadline, "the scoring log never wrote its rows"
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_the_view_read_from_the_scoring_log_and_the_event_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    store = EventStore(url)
    try:
        assert nurture_of(store, datetime(2026, 8, 8, tzinfo=UTC), 7) == []  # no table yet
        log = ScoringLog(url, tmp_path / "journal")
        try:
            scored = [("L-1", day(0), 50, "B"), ("L-1", day(4), 90, "A"),
                      ("L-2", day(1), 90, "A"), ("L-2", day(2), 91, "A")]  # fmt: skip
            for lead, at, score, grade in scored:
                row = rows_for([lead], [score / 100], [score], [grade], "v", "c", "api",
                               scored_at=at.replace(tzinfo=UTC))  # fmt: skip
                log.record(row)
        finally:
            log.close()
        _wait_for_rows(url, 4)
        event = {"lead_id": "L-1", "event_type": "demo_request"}
        store.append([ActivityEvent(event_id="e1", occurred_at=day(1), **event),
                      ActivityEvent(event_id="e0", occurred_at=day(-1), **event)])  # fmt: skip
        found = nurture_of(store, day(7).replace(tzinfo=UTC), 7)
        assert [(c.lead_id, c.direction) for c in found] == [("L-1", INTO_A)]
        assert [t.event_id for t in found[0].events] == ["e1"]
        assert nurture_of(store, day(7), 2) == []  # the crossing is 3 days old
    finally:
        store.close()


@pytest.mark.parametrize("days", [1, 7])
def test_an_unreadable_database_is_unavailable(tmp_path, days):
    from leadscore.scoring.events_store import EventsUnavailable

    (tmp_path / "dir.db").mkdir()
    store = EventStore(f"sqlite:///{tmp_path / 'dir.db'}", timeout_seconds=1)
    try:
        with pytest.raises(EventsUnavailable):
            nurture_of(store, T0, days)
    finally:
        store.close()
