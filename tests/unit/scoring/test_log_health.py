"""The scoring log's health words, its outage logging rhythm and the dead-letter count."""

from __future__ import annotations

import os
import re
import time

from leadscore.scoring.log_health import (
    CONNECTING,
    DATABASE_FAILING,
    DATABASE_NOT_ANSWERING,
    JOURNAL_FAILING,
    OK,
    OUTAGE_LOG_SECONDS,
    DatabaseHealth,
    DeadLetterCount,
    LogStats,
    now,
    short_error,
)


def test_an_error_is_one_redacted_line_of_at_most_500_characters():
    assert short_error(ValueError("boom\nsecond line")) == "ValueError: boom"
    long = short_error(RuntimeError("x" * 600))
    assert long == "RuntimeError: " + "x" * (500 - len("RuntimeError: "))
    assert "hunter2" not in short_error(OSError("postgresql://app:hunter2@db/log refused"))


def test_now_is_utc_to_the_second():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", now())


def test_the_state_words_in_order_of_precedence():
    health = DatabaseHealth(timeout_seconds=5.0, stats=LogStats())
    assert health.state(False) == CONNECTING == "connecting"
    health.schema_ready = True
    assert health.state(False) == OK == "ok"
    health.failing = True
    assert health.state(False) == DATABASE_FAILING == "database-failing"
    health.call_started = time.monotonic() - 6.0
    assert health.state(False) == DATABASE_NOT_ANSWERING == "database-not-answering"
    assert health.state(True) == JOURNAL_FAILING == "journal-failing"
    health.call_started = time.monotonic() - 4.0  # a call still within its timeout
    assert health.state(False) == DATABASE_FAILING


def test_a_write_ends_an_outage_and_an_error_is_noted_with_its_time():
    stats = LogStats()
    health = DatabaseHealth(timeout_seconds=5.0, stats=stats, failing=True)
    before = health.last_write
    health.written_now()
    assert health.failing is False and health.last_write >= before
    health.note_error("OSError: gone")
    assert stats.last_error == "OSError: gone" and stats.last_error_at is not None


def test_an_outage_is_logged_when_it_starts_then_at_most_every_30_seconds():
    assert OUTAGE_LOG_SECONDS == 30.0
    health = DatabaseHealth(timeout_seconds=5.0, stats=LogStats())
    assert health.outage_worth_logging()  # not failing yet: the first failure is logged
    health.failing = True
    assert not health.outage_worth_logging()
    health.last_outage_log = time.monotonic() - 31
    assert health.outage_worth_logging()
    assert not health.outage_worth_logging()
    health.last_outage_log = time.monotonic() - 29
    assert not health.outage_worth_logging()


def test_dead_letters_are_counted_as_the_file_grows_and_again_when_replaced(tmp_path):
    count = DeadLetterCount(tmp_path)
    assert count.rows() == 0
    path = tmp_path / "rejected.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    assert count.rows() == 2
    with path.open("ab") as handle:
        handle.write(b'{"a": 3}\n')
    assert count.rows() == 3
    assert count.rows() == 3  # unchanged: counted once
    replaced = tmp_path / "new.jsonl"
    replaced.write_bytes(b'{"b": 1}\n{"b": 2}\n{"b": 3}\n{"b": 4}\n')
    os.replace(replaced, path)  # a replay rewrote it: another inode
    assert count.rows() == 4
    longer = tmp_path / "longer.jsonl"
    longer.write_bytes(b"abcd\n" * 10)  # 50 bytes, 10 rows: another, larger file
    os.replace(longer, path)
    assert count.rows() == 10
    path.write_bytes(b'{"c": 1}\n')  # the same file, shorter
    assert count.rows() == 1
    path.unlink()
    assert count.rows() == 0
