"""Shipping the journal into a SQLite table, step by step: batches from checkpoints, unreadable
lines and refused rows set aside, an outage counted as spilled and replayed, a call that runs
past the timeout, dead letters offered again. (The scoring log around it: test_scoring_log.py.)"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from scoring_log_stores import some_rows

from leadscore.scoring import log_shipper
from leadscore.scoring.backlog import Backlog
from leadscore.scoring.journal import JournalWriter, encode_row
from leadscore.scoring.journal_files import REJECTED_FILE, adopt_orphans, read_checkpoint
from leadscore.scoring.log_health import DatabaseHealth, LogStats
from leadscore.scoring.log_shipper import JournalShipper
from leadscore.scoring.log_table import TABLE, make_engine, rows_for


def shipper_for(directory, url, journal=None, batch_size=2, timeout=5.0) -> JournalShipper:
    return JournalShipper(
        directory,
        "log.db",
        make_engine(url),
        DatabaseHealth(timeout, LogStats()),
        Backlog(),
        batch_size,
        journal=journal,
        adopted=adopt_orphans(directory, journal.token if journal else None),
    )


def table_rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT entry_id, lead_id FROM {TABLE} ORDER BY id")
        found = [tuple(row) for row in rows]
    engine.dispose()
    return found


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


def orphan(directory, lines: list[bytes], token: str = "1-dead") -> None:
    """A segment left by a process that ended (nobody holds its lock)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{token}-000000.jsonl").write_bytes(b"".join(lines))


def test_the_journal_ships_in_batches_from_its_checkpoint(tmp_path, url):
    journal = JournalWriter(tmp_path / "j", sync=False)
    shipper = shipper_for(tmp_path / "j", url, journal)
    assert shipper.contact() and shipper.health.schema_ready
    journal.append(some_rows(5), [f"e{i}" for i in range(5)])
    assert not shipper.caught_up()
    assert shipper.ship_all()
    assert [row[0] for row in table_rows(url)] == ["e0", "e1", "e2", "e3", "e4"]
    ((segment, end, _),) = journal.segments()
    assert shipper.offsets[segment] == end == read_checkpoint(segment)
    assert shipper.health.stats.written == 5 and shipper.caught_up()
    journal.close()
    shipper.remove_shipped()
    assert not segment.exists()
    shipper.engine.dispose()


def test_an_ended_processs_segment_is_shipped_then_removed(tmp_path, url):
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = rows_for(
        ["old-0", "old-1", "old-2"], [0.5] * 3, [50] * 3, ["B"] * 3, "m", "c", "api", stamp
    )
    orphan(tmp_path / "j", [encode_row(f"o{i}", row) for i, row in enumerate(rows)])
    shipper = shipper_for(tmp_path / "j", url)
    (adopted,) = shipper.adopted
    assert shipper.oldest_adopted() == stamp.timestamp()
    assert shipper.count_spilled() == 3 and shipper.health.stats.spilled == 3
    assert shipper.count_spilled() == 0  # counted once
    assert shipper.contact() and shipper.ship_all()
    assert [row[1] for row in table_rows(url)] == ["old-0", "old-1", "old-2"]
    assert shipper.health.stats.replayed == 3 and adopted.segments == []
    assert not (tmp_path / "j" / "1-dead-000000.jsonl").exists() and shipper.caught_up()
    shipper.engine.dispose()


def test_an_unreadable_line_is_set_aside_as_lost_and_the_rest_ships(tmp_path, url, caplog):
    good = [encode_row(f"o{i}", row) for i, row in enumerate(some_rows(2))]
    orphan(tmp_path / "j", [good[0], b"not json\n", good[1], b"torn"])
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    assert shipper.contact() and shipper.ship_all()
    assert [row[0] for row in table_rows(url)] == ["o0", "o1"]
    stats = shipper.health.stats
    assert (stats.written, stats.lost, stats.rejected) == (2, 1, 0)
    (letter,) = [
        json.loads(line) for line in (tmp_path / "j" / REJECTED_FILE).read_text().splitlines()
    ]
    assert letter["row"] == "not json" and letter["reason"] == "unreadable journal line"
    assert (  # the torn tail was never answered
        "scoring log: 1-dead-000000.jsonl ends in an incomplete line (a write torn by a crash, "
        "never answered); skipped"
    ) in caplog.messages
    shipper.engine.dispose()


def test_a_row_refused_for_its_values_is_set_aside_not_its_batch(tmp_path, url):
    rows = some_rows(3)
    bad = (None, *rows[1][1:])  # no lead id: NOT NULL refuses it
    orphan(
        tmp_path / "j", [encode_row("a", rows[0]), encode_row("b", bad), encode_row("c", rows[2])]
    )
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    assert shipper.contact() and shipper.ship_all()
    assert [row[0] for row in table_rows(url)] == ["a", "c"]
    stats = shipper.health.stats
    assert (stats.written, stats.rejected, stats.lost, stats.failed_writes) == (2, 1, 0, 1)
    (letter,) = [
        json.loads(line) for line in (tmp_path / "j" / REJECTED_FILE).read_text().splitlines()
    ]
    assert letter["reason"].startswith("IntegrityError: ")
    assert json.loads(letter["row"])[0] == "b"
    # offered again: still refused, with its reason; a fixed row ships
    fixed = {**letter, "row": encode_row("b", rows[1]).decode().strip()}
    unreadable = {"row": "[1", "reason": "old"}
    kept = shipper.reship([letter, fixed, unreadable])
    assert [k["row"] for k in kept] == [letter["row"], "[1"]
    assert kept[0]["reason"].startswith("IntegrityError: ")
    assert kept[1]["reason"].startswith("unreadable row: ")
    assert [row[0] for row in table_rows(url)] == ["a", "c", "b"]
    assert shipper.health.stats.written == 3
    shipper.engine.dispose()


def test_an_outage_keeps_rows_in_the_journal_and_counts_them_spilled(tmp_path, caplog):
    database = tmp_path / "log.db"
    database.mkdir()  # every write fails until removed
    url = f"sqlite:///{database}"
    orphan(tmp_path / "j", [encode_row(f"o{i}", row) for i, row in enumerate(some_rows(2))])
    shipper = shipper_for(tmp_path / "j", url)
    shipper.backlog.add(2)
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log_shipper"):
        assert not shipper.contact()
    assert re.fullmatch(
        r"scoring log: cannot write to log\.db \(\w+ error: OperationalError: .+\); "
        rf"2 rows kept in the journal {re.escape(str(tmp_path / 'j'))} and retried until it "
        r"takes them",
        caplog.messages[0],
    )
    health = shipper.health
    assert health.failing and not health.schema_ready and health.stats.failed_writes == 1
    assert health.stats.spilled == 2 and health.stats.last_error
    assert not shipper.ship_all()  # nothing advanced
    assert health.stats.failed_writes == 2 and health.stats.spilled == 2  # not counted twice
    database.rmdir()
    with caplog.at_level(logging.WARNING, logger="leadscore.scoring.log_health"):
        assert shipper.contact() and not health.failing and shipper.ship_all()
    assert health.stats.replayed == 2 and health.stats.written == 2
    assert (
        "scoring log: the database takes writes again; 0 spilled rows replayed so far"
        in caplog.messages
    )
    shipper.engine.dispose()


def test_a_call_past_the_timeout_is_noted_and_what_waits_counts_as_spilled(tmp_path, url):
    orphan(tmp_path / "j", [encode_row("o0", some_rows(1)[0])])
    shipper = shipper_for(tmp_path / "j", url, timeout=0.0)
    with shipper.calling():
        assert shipper.health.call_started is not None
        time.sleep(0.01)
    assert shipper.health.call_started is None
    assert re.fullmatch(
        r"the database did not answer for \d+\.\d s", shipper.health.stats.last_error
    )
    assert shipper.health.stats.spilled == 1
    quick = shipper_for(tmp_path / "k", url, timeout=5.0)
    with quick.calling():
        pass
    assert quick.health.stats.last_error is None
    shipper.engine.dispose()
    quick.engine.dispose()


def test_dead_letters_stay_when_the_database_is_down(tmp_path, url):
    shipper = shipper_for(tmp_path / "j", url)
    assert shipper.contact()
    row = encode_row("x", some_rows(1)[0]).decode().strip()
    records = [{"row": row, "reason": "old"}, {"row": row, "reason": "old"}]
    shipper.engine.dispose()
    shipper.engine = make_engine(f"sqlite:///{tmp_path}")  # a directory: cannot be opened
    assert shipper.reship(records) == records
    assert shipper.health.stats.last_error.startswith("OperationalError: ")


def dead_letters(directory) -> list[dict]:
    return [json.loads(line) for line in (directory / REJECTED_FILE).read_text().splitlines()]


def test_a_batch_taken_row_by_row_sets_aside_unreadable_lines_as_lost(tmp_path, url):
    rows = some_rows(3)
    bad = (None, *rows[1][1:])  # no lead id: NOT NULL refuses it, so the batch goes row by row
    lines = [encode_row("a", rows[0]), b"not json\n", b"[1\n", encode_row("b", bad)]
    orphan(tmp_path / "j", [*lines, encode_row("c", rows[2])])
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    assert shipper.contact() and shipper.ship_all()
    assert [row[0] for row in table_rows(url)] == ["a", "c"]
    stats = shipper.health.stats
    assert (stats.written, stats.rejected, stats.lost) == (2, 1, 2)
    letters = dead_letters(tmp_path / "j")
    assert [letter["row"] for letter in letters] == ["not json", "[1", lines[3].decode().strip()]
    assert [letter["reason"] for letter in letters[:2]] == ["unreadable journal line"] * 2
    assert letters[2]["reason"].startswith("IntegrityError: ")
    shipper.engine.dispose()


def test_an_outage_while_going_row_by_row_keeps_the_rest_in_the_journal(
    tmp_path, url, monkeypatch, caplog
):
    rows = some_rows(5)
    bad = (None, *rows[1][1:])  # refused for its values: the batch goes row by row
    entries = ["a", "b", "c", "d", "e"]
    orphan(
        tmp_path / "j",
        [encode_row(e, bad if e == "b" else row) for e, row in zip(entries, rows, strict=True)],
    )
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    assert shipper.contact()
    real_write = log_shipper.write_entries

    def down_at_d(engine, batch):  # the database goes away when row d is written alone
        if [entry for entry, _ in batch] == ["d"]:
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real_write(engine, batch)

    monkeypatch.setattr(log_shipper, "write_entries", down_at_d)
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log_shipper"):
        assert not shipper.ship_all()  # stopped at d
    assert "(transient error: OperationalError: " in caplog.messages[-1]
    stats = shipper.health.stats
    assert [row[0] for row in table_rows(url)] == ["a", "c"]
    assert (stats.written, stats.rejected, stats.spilled) == (2, 1, 2)  # d and e wait
    assert shipper.health.failing and "server closed the connection" in stats.last_error
    ((segment, _),) = [(s, o) for s, o in shipper.offsets.items()]
    assert read_checkpoint(segment) == sum(
        len(encode_row(e, bad if e == "b" else row))
        for e, row in zip(entries[:3], rows[:3], strict=True)
    )  # past a, b and c: the next round starts at d
    monkeypatch.setattr(log_shipper, "write_entries", real_write)
    assert shipper.contact() and shipper.ship_all()
    assert [row[0] for row in table_rows(url)] == ["a", "c", "d", "e"]
    assert (stats.written, stats.rejected, stats.replayed) == (4, 1, 2)
    shipper.engine.dispose()


def test_each_set_aside_row_is_kept_as_text_counted_and_logged(tmp_path, url, caplog):
    good = encode_row("a", some_rows(1)[0])
    orphan(tmp_path / "j", [b"\xff\xfe not utf-8\n", b"[1\n", good])
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log_shipper"):
        assert shipper.contact() and shipper.ship_all()
    stats = shipper.health.stats
    assert (stats.written, stats.lost, stats.rejected) == (1, 2, 0)
    letters = dead_letters(tmp_path / "j")
    assert [letter["row"] for letter in letters] == ["\ufffd\ufffd not utf-8", "[1"]
    assert all(datetime.fromisoformat(letter["at"]).tzinfo for letter in letters)
    refused = "scoring log: a row was refused (unreadable journal line); set aside in "
    assert caplog.messages.count(refused + REJECTED_FILE) == 2
    shipper.engine.dispose()


def test_a_row_that_cannot_be_set_aside_counts_as_lost(tmp_path, url):
    rows = some_rows(2)
    bad = (None, *rows[1][1:])  # refused for its values
    orphan(tmp_path / "j", [encode_row("a", rows[0]), encode_row("b", bad)])
    (tmp_path / "j" / REJECTED_FILE).mkdir()  # the dead-letter file cannot be written
    shipper = shipper_for(tmp_path / "j", url, batch_size=10)
    assert shipper.contact() and shipper.ship_all()
    stats = shipper.health.stats
    assert (stats.written, stats.rejected, stats.lost) == (1, 0, 1)
    shipper.engine.dispose()


def test_an_unreadable_dead_letter_does_not_hold_back_the_next(tmp_path, url):
    shipper = shipper_for(tmp_path / "j", url)
    assert shipper.contact()
    fixed = {"row": encode_row("b", some_rows(1)[0]).decode().strip(), "reason": "old"}
    kept = shipper.reship([{"row": "[1", "reason": "old"}, fixed])
    assert [row[0] for row in table_rows(url)] == ["b"]
    ((still,),) = [kept]
    assert still["row"] == "[1" and still["reason"].startswith("unreadable row: ")
    assert datetime.fromisoformat(still["at"]).tzinfo
    shipper.engine.dispose()


def test_the_oldest_row_left_by_ended_processes_is_read_from_their_segments(tmp_path, url):
    def stamped(day: int) -> bytes:
        stamp = datetime(2026, 1, day, tzinfo=UTC)
        return encode_row(
            f"e{day}", rows_for([f"l{day}"], [0.5], [50], ["B"], "m", "c", "api", stamp)[0]
        )

    directory = tmp_path / "j"
    assert shipper_for(directory, url).oldest_adopted() is None  # nothing left by anyone
    orphan(directory, [b"not json\n", stamped(1)], token="1-unreadable-first")
    orphan(directory, [], token="2-empty")
    orphan(directory, [stamped(5), stamped(2)], token="3-dead")
    orphan(directory, [stamped(4)], token="4-dead")
    shipper = shipper_for(directory, url)
    assert shipper.oldest_adopted() == datetime(2026, 1, 4, tzinfo=UTC).timestamp()
    shipper.engine.dispose()


def test_a_shipped_segment_is_forgotten_everywhere_and_a_clean_end_is_not_warned(
    tmp_path, url, caplog
):
    orphan(tmp_path / "j", [encode_row(f"o{i}", row) for i, row in enumerate(some_rows(3))])
    shipper = shipper_for(tmp_path / "j", url)
    ((segment,),) = [adopted.segments for adopted in shipper.adopted]
    shipper.spill_marks[segment] = 1  # as counted in an outage
    with caplog.at_level(logging.WARNING, logger="leadscore.scoring.log_shipper"):
        assert shipper.contact() and shipper.ship_all()
    assert not segment.exists() and segment not in shipper.offsets
    assert segment not in shipper.spill_marks and shipper.adopted[0].segments == []
    assert "incomplete line" not in caplog.text  # it ended on a whole line


def test_the_own_journals_finished_segment_is_forgotten_by_the_journal(tmp_path, url):
    journal = JournalWriter(tmp_path / "j", sync=False, max_segment_bytes=1)
    shipper = shipper_for(tmp_path / "j", url, journal)
    journal.append(some_rows(1))
    journal.append(some_rows(1, "next"))  # the first segment is full: a second one starts
    (first, _, _), *_ = journal.segments()
    assert shipper.contact() and shipper.ship_all()
    assert first not in [segment for segment, _, _ in journal.segments()]
    journal.close()
    shipper.engine.dispose()


def test_an_outage_of_a_whole_batch_keeps_it_in_the_journal(tmp_path, url, monkeypatch, caplog):
    orphan(tmp_path / "j", [encode_row(f"o{i}", row) for i, row in enumerate(some_rows(3))])
    shipper = shipper_for(tmp_path / "j", url)
    assert shipper.contact()

    def down(engine, batch):
        raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(log_shipper, "write_entries", down)
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log_shipper"):
        assert not shipper.ship_all()  # nothing advanced, and no endless retry of the batch
    assert "(transient error: OperationalError: " in caplog.messages[-1]
    stats = shipper.health.stats
    assert shipper.health.failing and (stats.written, stats.failed_writes, stats.spilled) == (
        0,
        1,
        3,
    )
    assert list(shipper.offsets.values()) == [0]  # still at the start of the segment
    shipper.engine.dispose()


def test_each_batch_refused_for_its_values_is_counted_and_its_error_noted(tmp_path, url):
    rows = some_rows(4)
    lines = [
        encode_row(e, (None, *row[1:]) if e in {"b", "d"} else row)
        for e, row in zip("abcd", rows, strict=True)
    ]
    orphan(tmp_path / "j", lines)
    shipper = shipper_for(tmp_path / "j", url, batch_size=2)  # a bad row in each batch
    assert shipper.contact() and shipper.ship_all()
    stats = shipper.health.stats
    assert (stats.written, stats.rejected, stats.failed_writes) == (2, 2, 2)
    assert stats.last_error.startswith("IntegrityError: ")
    shipper.engine.dispose()


def test_an_empty_segment_left_by_an_ended_process_is_removed(tmp_path, url):
    orphan(tmp_path / "j", [])
    shipper = shipper_for(tmp_path / "j", url)
    assert shipper.contact() and shipper.ship_all()
    assert not list((tmp_path / "j").glob("*.jsonl"))
    shipper.engine.dispose()


def test_a_dead_letter_refused_again_gets_its_new_reason_and_time(tmp_path, url):
    shipper = shipper_for(tmp_path / "j", url)
    assert shipper.contact()
    bad = encode_row("b", (None, *some_rows(1)[0][1:])).decode().strip()
    (kept,) = shipper.reship([{"row": bad, "reason": "old", "at": "2020-01-01T00:00:00+00:00"}])
    assert kept["reason"].startswith("IntegrityError: ") and kept["at"] > "2026"
    shipper.engine.dispose()
