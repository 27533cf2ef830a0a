"""The scoring log's request side on SQLite: rows kept without a journal, the refusal when the
database fails too, the trend from memory and from the table, the retry backoff and the replay's
account. (Batches, outages and dead letters: test_scoring_log.py.)"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from scoring_log_stores import some_rows, until

from leadscore.scoring.journal import encode_row
from leadscore.scoring.journal_files import (
    DESTINATION_FILE,
    JournalDestinationError,
    append_dead_letters,
    unshipped_rows,
)
from leadscore.scoring.log import ScoringLog, ScoringLogUnavailable, journal_dir_for, replay
from leadscore.scoring.log_reader import read_scoring_log
from leadscore.scoring.log_table import TABLE, ensure_schema, make_engine, rows_for, write_entries


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


def test_a_sqlite_files_journal_sits_beside_it(tmp_path, url):
    assert journal_dir_for(url) == tmp_path / "log.db.journal"
    scoring_log = ScoringLog(url)
    assert scoring_log.journal_dir == tmp_path / "log.db.journal"
    scoring_log.close()


def test_without_a_journal_rows_go_straight_to_the_table(url, tmp_path):
    # at once, on a new database: the direct write creates the table if the writer has not yet
    scoring_log = ScoringLog(url, tmp_path / "journal", write_journal=False)
    scoring_log.record([])  # nothing to keep
    assert scoring_log.stats.journal_failures == 0
    scoring_log.record(some_rows(2))
    scoring_log.record(some_rows(1, "given"), entry_ids=["e-1"])
    assert scoring_log.stats.journal_failures == 2 and scoring_log.stats.written == 3
    assert scoring_log.previous(["lead-1"]).found == {"lead-1": (2, "B")}
    scoring_log.close()
    table = read_scoring_log(url)
    assert table["lead_id"].tolist() == ["lead-0", "lead-1", "given-0"]
    assert table["entry_id"].str.startswith("direct:").tolist() == [True, True, False]
    assert table["entry_id"].tolist()[2] == "e-1"


def test_when_the_database_fails_too_the_rows_are_refused_not_dropped(tmp_path):
    database = tmp_path / "log.db"
    database.mkdir()  # a directory where the database file should be: every write fails
    scoring_log = ScoringLog(f"sqlite:///{database}", tmp_path / "journal", write_journal=False)
    with pytest.raises(ScoringLogUnavailable) as raised:
        scoring_log.record(some_rows(2))
    assert str(raised.value) == (
        "the scoring log cannot keep these leads: the journal failed (journal unavailable) and "
        "the database is unavailable (OperationalError)"
    )
    assert scoring_log.stats.written == 0 and scoring_log.stats.last_error
    assert scoring_log.previous(["lead-0"]).found == {}  # not remembered: not kept
    scoring_log.close(timeout=1)


def keep(scoring_log: ScoringLog, rows: list, entry_ids=None, asynchronous: bool = False) -> None:
    """`record`, or `record_async` as the service's event loop calls it."""
    if asynchronous:
        asyncio.run(scoring_log.record_async(rows, entry_ids))
    else:
        scoring_log.record(rows, entry_ids)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["record", "record_async"])
def test_journaled_rows_keep_their_entry_ids(url, tmp_path, asynchronous):
    scoring_log = ScoringLog(url, tmp_path / "journal")
    keep(scoring_log, some_rows(2), ["e-0", "e-1"], asynchronous)
    keep(scoring_log, some_rows(1, "made"), None, asynchronous)  # ids made by the journal
    assert scoring_log.stats.journal_failures == 0
    scoring_log.close()
    ids = read_scoring_log(url)["entry_id"].tolist()
    assert ids[:2] == ["e-0", "e-1"] and ids[2] not in {"e-0", "e-1"}


@pytest.mark.parametrize("asynchronous", [False, True], ids=["record", "record_async"])
def test_a_failing_journal_sends_the_rows_straight_to_the_table(
    url, tmp_path, caplog, asynchronous
):
    scoring_log = ScoringLog(url, tmp_path / "journal")
    scoring_log._journal.close()  # the journal refuses rows from now on
    with caplog.at_level(logging.WARNING, logger="leadscore.scoring.log"):
        keep(scoring_log, some_rows(2), ["e-0", "e-1"], asynchronous)
    assert (
        "scoring log: journal failed (the scoring journal is closed); 2 rows written directly"
    ) in caplog.messages
    assert scoring_log.stats.journal_failures == 1 and scoring_log.stats.written == 2
    assert scoring_log.previous(["lead-1"]).found == {"lead-1": (2, "B")}  # remembered
    scoring_log.close()
    assert read_scoring_log(url)["entry_id"].tolist() == ["e-0", "e-1"]


@pytest.mark.parametrize("journal", ["none", "failing"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["record", "record_async"])
def test_a_refusal_names_why_the_journal_failed(tmp_path, caplog, journal, asynchronous):
    database = tmp_path / "log.db"
    database.mkdir()  # a directory where the database file should be: every write fails
    scoring_log = ScoringLog(
        f"sqlite:///{database}", tmp_path / "journal", write_journal=journal == "failing"
    )
    if journal == "failing":
        scoring_log._journal.close()
    with pytest.raises(ScoringLogUnavailable) as raised:
        keep(scoring_log, some_rows(2), None, asynchronous)
    why = "journal unavailable" if journal == "none" else "the scoring journal is closed"
    assert str(raised.value) == (
        f"the scoring log cannot keep these leads: the journal failed ({why}) and the database "
        "is unavailable (OperationalError)"
    )
    assert scoring_log.previous(["lead-0"]).found == {}  # not remembered: not kept
    assert scoring_log.stats.last_error.startswith("OperationalError: ")
    assert (
        f"scoring log: journal and database both failed ({why}; OperationalError: " in caplog.text
    ) and caplog.text.rstrip().endswith("refusing 2 rows")
    scoring_log.close(timeout=1)


def test_recorded_rows_are_remembered_for_the_trend(url):
    scoring_log = ScoringLog(url)
    scoring_log.record(some_rows(3))
    asyncio.run(scoring_log.record_async(some_rows(2, "async")))
    asyncio.run(scoring_log.record_async([]))
    found = scoring_log.previous(["lead-2", "async-1", "unknown"]).found
    assert found == {"lead-2": (3, "C"), "async-1": (2, "B")}
    assert scoring_log.flush(10) and scoring_log.healthy and scoring_log.state == "ok"
    scoring_log.close()
    assert read_scoring_log(url)["lead_id"].tolist() == [
        "lead-0", "lead-1", "lead-2", "async-0", "async-1"
    ]  # fmt: skip


def test_leads_the_index_lacks_are_read_from_the_table(url, tmp_path):
    engine = make_engine(url)
    ensure_schema(engine)
    write_entries(engine, [(f"other:{i}", row) for i, row in enumerate(some_rows(2, "old"))])
    engine.dispose()
    scoring_log = ScoringLog(url, tmp_path / "journal", trend_leads=0)  # no index
    previous = scoring_log.previous_logged(["old-1", "new"])
    assert previous.found == {"old-1": (2, "B")} and previous.complete
    scoring_log.close()


def test_a_new_database_has_no_previous_scores(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    scoring_log = ScoringLog(url, tmp_path / "journal", trend_leads=0)
    previous = scoring_log.previous_logged(["a"])
    assert previous.found == {} and previous.complete
    scoring_log.close()


def test_an_unreadable_table_leaves_the_trend_unknown(tmp_path):
    database = tmp_path / "log.db"
    database.mkdir()
    scoring_log = ScoringLog(f"sqlite:///{database}", tmp_path / "journal", trend_leads=0)
    previous = scoring_log.previous_logged(["a"])
    assert previous.found == {} and not previous.complete
    assert scoring_log.stats.last_error
    scoring_log.close(timeout=1)


def test_the_retry_delay_doubles_up_to_its_cap(url, tmp_path):
    scoring_log = ScoringLog(url, tmp_path / "journal", max_retry_seconds=100.0)
    delays = []
    for failures in (0, 1, 3, 8, 12):
        scoring_log.stats.failed_writes = failures
        delays.append(scoring_log._retry_delay())
    assert delays == [0.25, 0.5, 2.0, 64.0, 64.0]
    scoring_log.max_retry_seconds = 2.0
    scoring_log.stats.failed_writes = 5
    assert scoring_log._retry_delay() == 2.0
    scoring_log.stats.failed_writes = 0
    scoring_log.close()


def test_the_replay_ships_what_an_ended_process_left_and_accounts_for_it(tmp_path):
    database = tmp_path / "log.db"
    url, journal = f"sqlite:///{database}", tmp_path / "journal"
    database.mkdir()  # down while the first process runs
    first = ScoringLog(url, journal, flush_seconds=0.05, max_retry_seconds=0.1)
    first.record(some_rows(4))
    first.close(timeout=0.5)
    assert unshipped_rows(journal) == 4
    database.rmdir()  # the database is back
    account = replay(url, journal, timeout=10)
    assert account == {
        "journal": str(journal),
        "destination": account["destination"],
        "found": 4,
        "replayed": 4,
        "rejected": 0,
        "dead_letters_shipped": 0,
        "dead_letters_left": 0,
        "remaining": 0,
        "complete": True,
        "last_error": account["last_error"],
    }
    assert "log.db" in account["destination"]
    assert read_scoring_log(url)["lead_id"].tolist() == [f"lead-{i}" for i in range(4)]


def drop_table(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {TABLE}")
    engine.dispose()


def test_no_journal_directory_turns_health_red_and_rows_go_to_the_table(url, tmp_path, caplog):
    journal = tmp_path / "journal"
    journal.write_text("")  # a file where the journal directory should be
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log"):
        scoring_log = ScoringLog(url, journal)
    assert scoring_log.state == "journal-failing" and not scoring_log.healthy
    assert scoring_log.stats.last_error.startswith("journal unavailable: ")
    assert "Error" in scoring_log.stats.last_error  # the OS error's kind, e.g. FileExistsError
    assert re.fullmatch(
        rf"scoring log: no journal at {re.escape(str(journal))} \(\w+Error: .+\); writing "
        "straight to the database",
        caplog.messages[0],
    )
    scoring_log.record(some_rows(1))
    scoring_log.close()
    assert read_scoring_log(url)["lead_id"].tolist() == ["lead-0"]


def test_while_the_database_fails_leads_not_in_memory_have_an_unknown_trend(tmp_path):
    database = tmp_path / "log.db"
    database.mkdir()  # every write and read fails
    scoring_log = ScoringLog(
        f"sqlite:///{database}", tmp_path / "journal", flush_seconds=0.05, max_retry_seconds=0.1
    )
    scoring_log.record(some_rows(2))  # journaled, and remembered
    assert until(lambda: scoring_log.state == "database-failing")
    previous = scoring_log.previous_logged(["lead-1", "other"])
    assert previous.found == {"lead-1": (2, "B")} and previous.complete is False
    scoring_log.close(timeout=1)


def test_a_complete_index_answers_for_new_leads_without_the_table(url, tmp_path):
    scoring_log = ScoringLog(url, tmp_path / "journal")
    scoring_log.record(some_rows(1))
    assert scoring_log.flush(10) and until(lambda: scoring_log.previous([]).complete)
    drop_table(url)  # the table would fail a read now: it is not asked
    previous = scoring_log.previous_logged(["lead-0", "new"])
    assert previous.found == {"lead-0": (1, "A")} and previous.complete
    assert scoring_log.stats.last_error is None
    scoring_log.close(timeout=1)


def test_a_table_read_that_fails_leaves_the_trend_unknown_and_says_why(url, tmp_path):
    scoring_log = ScoringLog(url, tmp_path / "journal", trend_leads=1)  # holds one lead
    scoring_log.record(some_rows(2))  # lead-0 is evicted: the index cannot answer for it
    assert scoring_log.flush(10) and scoring_log.healthy  # the table exists: schema ready
    drop_table(url)
    previous = scoring_log.previous_logged(["lead-1", "lead-0"])
    assert previous.found == {"lead-1": (2, "B")} and previous.complete is False
    assert scoring_log.stats.last_error.startswith("previous scores unavailable: OperationalError")
    scoring_log.close(timeout=1)


def dead_letter(row: str) -> dict:
    return {"row": row, "reason": "old", "at": "2026-01-01T00:00:00+00:00"}


def test_the_replay_offers_the_dead_letters_again_and_counts_them(tmp_path):
    # on a new database too: the table is created before the dead letters are offered
    url, journal = f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "journal"
    fixed = encode_row("e-1", some_rows(1)[0]).decode().strip()
    append_dead_letters(journal, [dead_letter(fixed), dead_letter("[1")])
    account = replay(url, journal, timeout=10)
    assert (account["dead_letters_shipped"], account["dead_letters_left"]) == (1, 1)
    assert account["complete"] and read_scoring_log(url)["entry_id"].tolist() == ["e-1"]


def test_a_replay_that_cannot_finish_leaves_the_dead_letters_and_counts_them(tmp_path):
    database = tmp_path / "log.db"
    database.mkdir()  # down
    url, journal = f"sqlite:///{database}", tmp_path / "journal"
    first = ScoringLog(url, journal, flush_seconds=0.05, max_retry_seconds=0.1)
    first.record(some_rows(2))  # left in the journal
    first.close(timeout=0.3)
    append_dead_letters(journal, [dead_letter("[1"), dead_letter("[2")])
    account = replay(url, journal, timeout=0.3)
    assert not account["complete"] and account["remaining"] == 2
    assert (account["dead_letters_shipped"], account["dead_letters_left"]) == (0, 2)


def test_a_replay_ships_an_unrecorded_journal_only_when_claimed(tmp_path):
    journal, down = tmp_path / "journal", tmp_path / "down.db"
    down.mkdir()  # its database is down: the rows stay in the journal
    writer = ScoringLog(f"sqlite:///{down}", journal, flush_seconds=0.05, max_retry_seconds=0.1)
    writer.record(some_rows(2))
    writer.close(timeout=0.2)
    (journal / DESTINATION_FILE).unlink()  # written before journals recorded their database
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with pytest.raises(JournalDestinationError, match="does not record their database"):
        replay(url, journal, timeout=5)
    account = replay(url, journal, timeout=10, claim=True)
    assert account["complete"] and account["replayed"] == 2


def test_the_writer_thread_never_holds_the_process_and_the_journal_syncs_as_told(url, tmp_path):
    scoring_log = ScoringLog(url, tmp_path / "journal", sync=False)
    assert scoring_log._thread.daemon and scoring_log._thread.name == "scoring-log"
    assert scoring_log._journal.sync is False
    scoring_log.close()
    synced = ScoringLog(url, tmp_path / "synced")
    assert synced._journal.sync is True
    synced.close()


def unrecorded_journal(directory, tmp_path) -> None:
    """Rows left in `directory` by a process of a version that did not record the database."""
    down = tmp_path / "down.db"
    down.mkdir(exist_ok=True)
    writer = ScoringLog(f"sqlite:///{down}", directory, flush_seconds=0.05, max_retry_seconds=0.1)
    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    writer.record(
        rows_for(["lead-0", "lead-1"], [0.1, 0.2], [1, 2], ["A", "B"], "m", "c", "api", a_day_ago)
    )
    writer.close(timeout=0.2)
    (directory / DESTINATION_FILE).unlink()


def test_a_sqlite_files_own_journal_is_adopted_without_a_record(tmp_path, caplog):
    database = tmp_path / "log.db"
    url = f"sqlite:///{database}"
    unrecorded_journal(journal_dir_for(url), tmp_path)  # beside the file: only its rows
    with caplog.at_level(logging.WARNING, logger="leadscore.scoring.log"):
        scoring_log = ScoringLog(url)
    assert (
        "scoring log: 2 rows left in the journal by an ended process; replaying them"
        in caplog.messages
    )
    assert scoring_log.backlog.rows == 2  # waiting since they were scored, a day ago
    assert 86_000 < scoring_log.backlog.oldest_seconds() < 87_000
    assert scoring_log.flush(10)
    scoring_log.close()
    assert read_scoring_log(url)["lead_id"].tolist() == ["lead-0", "lead-1"]


def test_a_journal_elsewhere_without_a_record_is_refused_unless_claimed(tmp_path):
    url, journal = f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "elsewhere"
    unrecorded_journal(journal, tmp_path)
    with pytest.raises(JournalDestinationError, match="does not record their database"):
        ScoringLog(url, journal)
    claimed = ScoringLog(url, journal, claim=True)
    assert claimed.flush(10)
    claimed.close()
    assert len(read_scoring_log(url)) == 2
