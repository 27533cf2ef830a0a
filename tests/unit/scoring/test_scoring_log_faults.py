"""The scoring log when the database misbehaves: frozen, locked, read-only, hanging at start,
or another service's. Rows stay in the journal (never set aside, never shipped elsewhere), health
turns red, the trend needs no database, and everything reaches the table afterwards. Real SQLite
and the real PostgreSQL of tests/postgres.py (those tests are marked `server`)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from scoring_log_stores import some_rows, table_ids, until

from leadscore.scoring import journal_files as journals
from leadscore.scoring.journal_files import REJECTED_FILE, unshipped_rows
from leadscore.scoring.log import ScoringLog, replay
from leadscore.scoring.log_table import ensure_schema, make_engine

FAST = {"flush_seconds": 0.05, "max_retry_seconds": 0.2, "timeout_seconds": 0.5}


def database_of(url: str) -> str:
    return sa.make_url(url).database


def test_database_calls_are_bounded(store):
    engine = make_engine(store.url, timeout=1.5)
    with engine.connect() as connection:
        if store.url.startswith("sqlite"):
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
        else:
            show = connection.exec_driver_sql
            assert show("SHOW statement_timeout").scalar() == "1500ms"
            assert show("SHOW lock_timeout").scalar() == "750ms"
    engine.dispose()


def test_a_sqlite_write_lock_keeps_rows_in_the_journal(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    ensure_schema(make_engine(url))
    holder = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    log = ScoringLog(url, tmp_path / "journal", **FAST)
    try:
        log.record(some_rows(30))
        assert until(lambda: log.stats.failed_writes >= 2)  # retried, not set aside
        assert not log.healthy and log.state == "database-failing"
        assert log.stats.rejected == 0 and not (tmp_path / "journal" / REJECTED_FILE).exists()
        assert log.backlog.rows == 30 and log.backlog.oldest_seconds() > 0
        assert "database is locked" in log.stats.last_error
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert log.flush(10)
    log.close()
    assert sorted(table_ids(url)) == sorted(f"lead-{i}" for i in range(30))
    assert log.healthy and log.stats.rejected == 0 and log.backlog.rows == 0


def test_a_data_error_is_dead_lettered_and_replay_ships_it_after_a_fix(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    journal = tmp_path / "log.db.journal"
    engine = sa.create_engine(url)
    ensure_schema(engine)
    refuse = (
        "CREATE TRIGGER refuse BEFORE INSERT ON scored_leads "
        "WHEN NEW.lead_id LIKE 'bad%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with engine.begin() as connection:
        connection.exec_driver_sql(refuse)
    log = ScoringLog(url, **FAST)
    rows = some_rows(6)
    rows[2] = ("bad-2", *rows[2][1:])
    log.record(rows)
    assert log.flush(10)
    assert log.healthy and log.stats.rejected == 1 and log.dead_letters == 1
    log.close()
    assert "bad-2" not in table_ids(url)
    assert replay(url)["dead_letters_left"] == 1  # still refused: kept, with the reason
    with engine.begin() as connection:  # the fix
        connection.exec_driver_sql("DROP TRIGGER refuse")
    result = replay(url)
    assert result["dead_letters_shipped"] == 1 and result["dead_letters_left"] == 0
    assert sorted(table_ids(url)) == sorted(["bad-2", *(f"lead-{i}" for i in (0, 1, 3, 4, 5))])
    assert not (journal / REJECTED_FILE).exists()
    engine.dispose()


def test_the_trend_index_is_warmed_from_the_table_and_follows_other_writers(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    earlier = ScoringLog(url, tmp_path / "journal")
    earlier.record(some_rows(5))
    earlier.close()
    log = ScoringLog(url, tmp_path / "journal", **FAST)
    cold = log.previous(["lead-3"])
    if not cold.complete:  # before the writer read the table: unknown, never `new`
        assert cold.trend("lead-3", 50) == "unknown"
    assert until(lambda: log.previous(["x"]).complete)
    warm = log.previous(["lead-3", "never-scored"])
    assert warm.found == {"lead-3": (4, "D")} and warm.trend("never-scored", 50) == "new"
    other = ScoringLog(url, tmp_path / "journal")  # another process's rows reach the table
    other.record(some_rows(2, prefix="other"))
    other.close()
    assert until(lambda: "other-1" in log.previous(["other-1"]).found)
    log.close()


@pytest.mark.server
def test_a_frozen_database_turns_health_red_and_loses_nothing(postgres, pg_database, tmp_path):
    log = ScoringLog(pg_database, tmp_path / "journal", **FAST)
    log.record(some_rows(3, prefix="before"))
    assert log.flush(10) and log.healthy
    postgres.freeze()
    try:
        log.record(some_rows(20))  # journaled: answered without the database
        assert until(lambda: log.state == "database-not-answering")
        assert not log.healthy and log.backlog.rows == 20
        assert log.previous(["lead-1"]).found == {"lead-1": (2, "B")}  # from memory
    finally:
        postgres.thaw()
    assert log.flush(20)
    log.close()
    assert len(table_ids(pg_database)) == 23 and log.stats.rejected == 0 and log.healthy
    assert log.stats.spilled == log.stats.replayed >= 20  # the rows that waited, counted


@pytest.mark.server
def test_the_log_starts_while_the_database_hangs(postgres, pg_database, tmp_path):
    postgres.freeze()
    try:
        started: list[ScoringLog] = []
        opening = threading.Thread(
            target=lambda: started.append(ScoringLog(pg_database, tmp_path / "journal", **FAST)),
            daemon=True,
        )
        opening.start()
        opening.join(10)
        assert started, "opening the scoring log waited for the database"
        log = started[0]
        log.record(some_rows(4))
        assert log.previous(["lead-0", "unseen"]).trend("unseen", 50) == "unknown"
        assert until(lambda: log.state == "database-not-answering")
    finally:
        postgres.thaw()
    assert log.flush(20) and until(lambda: log.healthy)
    log.close()
    assert len(table_ids(pg_database)) == 4


@pytest.mark.server
def test_a_table_lock_keeps_rows_in_the_journal(postgres, pg_database, tmp_path):
    log = ScoringLog(pg_database, tmp_path / "journal", **FAST)
    log.record(some_rows(2, prefix="before"))
    assert log.flush(10)
    with psycopg.connect(postgres.dsn(database_of(pg_database))) as holder:
        holder.execute("LOCK TABLE scored_leads IN ACCESS EXCLUSIVE MODE")
        log.record(some_rows(10))
        assert until(lambda: log.state == "database-failing")  # the lock timeout fired
        assert log.stats.rejected == 0 and log.backlog.rows == 10
        holder.rollback()
    assert log.flush(20)
    log.close()
    assert len(table_ids(pg_database)) == 12 and log.healthy and log.stats.rejected == 0


@pytest.mark.server
def test_a_read_only_database_keeps_rows_in_the_journal(postgres, pg_database, tmp_path):
    name = database_of(pg_database)

    def set_read_only(on: bool) -> None:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            value = "SET default_transaction_read_only = on" if on else "RESET ALL"
            admin.execute(f'ALTER DATABASE "{name}" {value}')
            admin.execute(  # a failover: every session ends, new ones are read-only
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    log = ScoringLog(pg_database, tmp_path / "journal", probe_seconds=0.2, **FAST)
    log.record(some_rows(2, prefix="before"))
    assert log.flush(10) and log.healthy
    set_read_only(True)
    try:
        assert until(lambda: log.state == "database-failing")  # the idle writer's write probe
        log.record(some_rows(25))
        assert until(lambda: log.stats.failed_writes >= 3)
        assert not log.healthy and log.stats.rejected == 0 and log.backlog.rows == 25
        assert "read-only" in log.stats.last_error
    finally:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert log.flush(20)  # the log's own pool reconnects: no session is ended for it
    log.close()
    assert len(table_ids(pg_database)) == 27 and log.stats.rejected == 0
    assert not (tmp_path / "journal" / REJECTED_FILE).exists()


KILLED_WRITER = """
import os, signal, sys
from leadscore.scoring.log import ScoringLog
sys.path.insert(0, sys.argv[2])
from scoring_log_stores import some_rows
log = ScoringLog(sys.argv[1], flush_seconds=3600)  # the default journal; never ships
log.record(some_rows(50, prefix="a"))
print(log.journal_dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.server
def test_two_databases_never_share_a_journal(postgres, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # both services run from the same directory
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    url_a = postgres.create_database("journal_a")
    url_b = postgres.create_database("journal_b")
    tests = str(Path(__file__).parents[2])
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, url_a, tests], capture_output=True, text=True
    )
    assert done.returncode == -9, done.stderr
    journal_a = Path(done.stdout.strip())
    assert journal_a.is_absolute() and unshipped_rows(journal_a) == 50
    b = ScoringLog(url_b, **FAST)  # the default journal of another database
    assert b.journal_dir != journal_a
    b.record(some_rows(5, prefix="b"))
    assert b.flush(10)
    b.close()
    assert sorted(table_ids(url_b)) == [f"b-{i}" for i in range(5)]
    from leadscore.scoring.database import destination_of

    with pytest.raises(journals.JournalDestinationError) as refused:  # A's journal, named for B
        ScoringLog(url_b, journal_dir=journal_a)
    a, other = destination_of(url_a), destination_of(url_b)
    assert a.fingerprint in str(refused.value) and other.fingerprint in str(refused.value)
    assert postgres.password not in (journal_a / journals.DESTINATION_FILE).read_text()
    assert replay(url_a)["replayed"] == 50  # A's rows go to A, and only there
    assert len(table_ids(url_a)) == 50 and len(table_ids(url_b)) == 5


def test_a_destination_has_no_secret_and_ignores_driver_and_user():
    from leadscore.scoring.database import destination_of

    first = destination_of("postgresql+psycopg://u:s3cret/PW#x@db.example:5432/leads")
    same = destination_of("postgresql://other:pw@DB.example/leads?sslmode=require")
    other = destination_of("postgresql+psycopg://u:s3cret/PW#x@db.example:5432/leads2")
    assert first == same and first.fingerprint != other.fingerprint
    assert first.name == "postgresql://db.example:5432/leads" and "s3cret" not in str(first)
