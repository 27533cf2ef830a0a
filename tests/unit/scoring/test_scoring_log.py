"""The scoring log keeps every recorded row: journaled before `record` returns, shipped to the
table, kept through database outages. (Process deaths and the replay across processes:
tests/e2e/test_scoring_log_processes.py; the PostgreSQL backend's variants are marked `server`.)"""

from __future__ import annotations

import json
import logging

import pandas as pd
import sqlalchemy as sa
from scoring_log_stores import some_rows, table_ids

from leadscore.scoring.journal_files import REJECTED_FILE, unshipped_rows
from leadscore.scoring.log import ScoringLog
from leadscore.scoring.log_reader import read_scoring_log
from leadscore.scoring.log_table import ensure_schema
from leadscore.views.feedback import join_scoring_log


def test_rows_are_written_in_batches(store):
    log = ScoringLog(store.url, store.journal)
    for start in range(0, 1200, 100):
        log.record(some_rows(100, prefix=f"b{start}"))
    assert log.flush(10)
    log.close()
    assert log.stats.written == 1200 and log.healthy
    rows = read_scoring_log(store.url)
    assert len(rows) == 1200 and set(rows["source"]) == {"api"}
    assert rows["scored_at"].notna().all() and rows["entry_id"].is_unique
    assert unshipped_rows(store.journal) == 0
    assert not list(store.journal.glob("*.jsonl"))  # shipped segments are removed


def test_a_dropped_table_is_recreated_and_nothing_is_lost(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = ScoringLog(url)
    log.record(some_rows(3, "before"))
    assert log.flush(10)
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # the table disappears under the service
        connection.execute(sa.text("DROP TABLE scored_leads"))
    engine.dispose()
    log.record(some_rows(5))
    assert log.flush(10)
    log.close()
    assert log.stats.failed_writes >= 1 and "no such table" in log.stats.last_error
    assert table_ids(url) == [f"lead-{i}" for i in range(5)] and log.healthy


def test_an_outage_spills_to_the_journal_and_recovery_replays_it(store, caplog):
    store.down()  # down from the start: the log starts anyway, rows wait in the journal
    log = ScoringLog(store.url, store.journal, flush_seconds=0.05, max_retry_seconds=0.2)
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log_shipper"):
        log.record(some_rows(40))  # returns: the rows are durable in the journal
        assert not log.flush(1.5)
    assert not log.healthy and log.stats.spilled == 40 and log.stats.written == 0
    assert any("kept in the journal" in message for message in caplog.messages)
    assert unshipped_rows(store.journal) == 40
    # a score trend during the outage comes from memory; the table is not asked (no wait),
    # and a lead this process did not score is unknown, not new (the table was never read)
    previous = log.previous(["lead-3", "never-scored"])
    assert previous.found == {"lead-3": (4, "D")}
    assert (
        previous.trend("lead-3", 20) == "rising" and previous.trend("never-scored", 20) == "unknown"
    )
    store.up()  # the database is back
    assert log.flush(20)
    assert log.healthy and log.stats.replayed == 40 and log.stats.lost == 0
    expected = [f"lead-{i}" for i in range(40)]
    if store.url.startswith("postgresql"):  # and down again while running
        store.down()
        log.record(some_rows(7, "again"))
        assert not log.flush(1.0) and not log.healthy
        store.up()
        assert log.flush(20) and log.healthy and log.stats.replayed == 47
        expected += [f"again-{i}" for i in range(7)]
    log.record(some_rows(2, "after"))
    log.close()
    assert sorted(table_ids(store.url)) == sorted([*expected, "after-0", "after-1"])
    assert log.stats.spilled == log.stats.replayed


def test_a_row_the_database_refuses_is_set_aside_not_its_batch(store):
    log = ScoringLog(store.url, store.journal)
    if store.url.startswith("sqlite"):  # SQLite stores a NUL byte: a rule that refuses one id
        engine = sa.create_engine(store.url)
        ensure_schema(engine)  # the log's writer creates it too, in the background
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON scored_leads "
                    "WHEN NEW.lead_id LIKE 'bad%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        engine.dispose()
    rows = some_rows(10)
    rows[4] = ("bad\x00id", *rows[4][1:])  # PostgreSQL text cannot hold a NUL byte
    log.record(rows)
    assert log.flush(10)
    log.close()
    assert len(table_ids(store.url)) == 9 and log.stats.rejected == 1 and log.stats.lost == 0
    assert log.healthy  # one bad row does not mark the log unhealthy
    rejected = [json.loads(line) for line in (store.journal / REJECTED_FILE).open()]
    assert "bad\\u0000id" in rejected[0]["row"] and rejected[0]["reason"]


def test_feedback_joins_outcomes_to_the_log(store):
    url = store.url
    log = ScoringLog(url, store.journal)
    log.record(some_rows(4))
    log.close()
    outcomes = pd.DataFrame(
        {
            "lead_id": ["lead-0", "lead-1", "lead-2"],
            "created_at": pd.to_datetime(["2026-01-05"] * 3),
            "converted": [1, 0, 1],
        }
    )
    joined, without = join_scoring_log(read_scoring_log(url), outcomes)
    assert len(joined) == 3 and without == 1
    assert joined.set_index("lead_id")["grade"].to_dict() == {
        "lead-0": "A",
        "lead-1": "B",
        "lead-2": "C",
    }


def test_a_journal_replayed_twice_writes_each_entry_once_and_sets_nothing_aside(store):
    """A crash between the table's commit and the journal's "shipped" mark replays entries the
    table already holds: they are skipped by entry id, not written twice nor set aside."""
    store.down()
    log = ScoringLog(store.url, store.journal, flush_seconds=0.05, max_retry_seconds=0.2)
    log.record(some_rows(50))
    assert not log.flush(1.0)
    log.close(timeout=0.2)  # down: nothing more can ship, the rows stay in the journal
    segments = {path: path.read_bytes() for path in store.journal.glob("*.jsonl")}
    assert segments and unshipped_rows(store.journal) == 50
    store.up()
    for replay in range(2):  # the second replay finds every entry in the table already
        for path, content in segments.items():
            path.write_bytes(content)
        log = ScoringLog(store.url, store.journal)
        assert log.flush(20)
        log.close()
        assert log.stats.rejected == 0 and log.healthy, replay
        assert sorted(table_ids(store.url)) == sorted(f"lead-{i}" for i in range(50))
    assert not (store.journal / REJECTED_FILE).exists()
    assert unshipped_rows(store.journal) == 0
