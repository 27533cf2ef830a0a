"""The scoring log keeps every recorded row: journaled before `record` returns, shipped to the
table, kept through database outages and process deaths, replayed exactly once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import PROJECT_ROOT

from leadscore.scoring.journal import REJECTED_FILE, unshipped_rows
from leadscore.scoring.log import (
    ScoringLog,
    ensure_schema,
    make_engine,
    replay,
    rows_for,
)
from leadscore.views.feedback import join_scoring_log, read_scoring_log


def some_rows(n: int, prefix: str = "lead") -> list[tuple]:
    return rows_for(
        [f"{prefix}-{i}" for i in range(n)],
        [0.1 * (i % 10) for i in range(n)],
        [1 + i % 100 for i in range(n)],
        ["ABCD"[i % 4] for i in range(n)],
        "m-1",
        "c-1",
        source="api",
    )


def table_ids(url: str) -> list[str]:
    return read_scoring_log(url)["lead_id"].tolist()


@dataclass
class Store:
    """A scoring-log database of one backend, its journal, and a way to take it down."""

    url: str
    journal: Path
    down: Callable[[], None]
    up: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        database = tmp_path / "log.db"
        # a directory where the database file should be: every write fails until removed
        yield Store(f"sqlite:///{database}", tmp_path / "journal", database.mkdir, database.rmdir)
        return
    server = request.getfixturevalue("postgres")
    url = request.getfixturevalue("pg_database")
    yield Store(url, tmp_path / "journal", server.stop, server.start)
    if not server.ready():  # a failed test must not leave the session's server down
        server.start()


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
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring.log"):
        log.record(some_rows(40))  # returns: the rows are durable in the journal
        assert not log.flush(1.5)
    assert not log.healthy and log.stats.spilled == 40 and log.stats.written == 0
    assert any("kept in the journal" in message for message in caplog.messages)
    assert unshipped_rows(store.journal) == 40
    # a score trend during the outage comes from memory; the table is not asked (no wait)
    assert log.previous(["lead-3", "never-scored"]) == {"lead-3": (4, "D")}
    assert "previous scores" not in (log.stats.last_error or "")
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


KILLED_WRITER = """
import os, signal, sys
from leadscore.scoring.log import ScoringLog, rows_for
log = ScoringLog(sys.argv[1], sys.argv[2], flush_seconds=3600)  # never ships on its own
rows = rows_for([f"k-{i}" for i in range(300)], [0.5] * 300, [50] * 300, ["B"] * 300,
                "m-1", "c-1", "api")
for start in range(0, 300, 30):
    log.record(rows[start:start + 30])
print("journaled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def feedback_warns_about_the_journal(tmp_path, store, caplog, expected: int) -> None:
    from leadscore.stages.feedback import main as feedback

    ensure_schema(make_engine(store.url))  # the table exists, empty: its rows are journaled
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"lead_id": ["k-1"], "created_at": ["2026-01-05"], "converted": [1]}).to_csv(
        outcomes, index=False
    )
    with caplog.at_level(logging.WARNING, logger="leadscore.stages.feedback"):
        report = feedback(
            params_path=PROJECT_ROOT / "params.yaml",
            reference_path=tmp_path / "none.parquet",
            card_path=tmp_path / "none.json",
            reports_dir=tmp_path / "reports",
            scoring_log=store.url,
            journal_dir=store.journal,
            outcomes_path=outcomes,
            as_of="2026-12-31",
        )
    assert report["scored_leads_not_replayed"] == expected
    assert any("scoring-log replay" in message for message in caplog.messages)


def test_rows_of_a_killed_process_are_replayed_once(store, tmp_path, caplog):
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, store.url, str(store.journal)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == -9 and "journaled" in done.stdout, done.stderr
    assert unshipped_rows(store.journal) == 300
    feedback_warns_about_the_journal(tmp_path, store, caplog, expected=300)
    first = replay(store.url, store.journal)
    assert first["replayed"] == 300 and first["remaining"] == 0 and first["complete"]
    assert replay(store.url, store.journal)["replayed"] == 0  # a second replay adds nothing
    ids = table_ids(store.url)
    assert sorted(ids) == sorted(f"k-{i}" for i in range(300)) and len(set(ids)) == 300


def test_the_replay_command(tmp_path):
    from typer.testing import CliRunner

    from leadscore.cli import app

    url = f"sqlite:///{tmp_path / 'log.db'}"
    journal = tmp_path / "log.db.journal"  # the default journal of a SQLite log
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, url, journal], capture_output=True)
    assert done.returncode == -9
    result = CliRunner().invoke(app, ["scoring-log", "replay", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "replayed 300 rows" in result.output and len(table_ids(url)) == 300


BOTH_FAIL = """
import json, resource, sys
from leadscore.scoring.log import ScoringLog, ScoringLogUnavailable, rows_for
log = ScoringLog(sys.argv[1], flush_seconds=3600)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # the journal's disk is "full"
rows = rows_for([f"x-{i}" for i in range(100)], [0.5] * 100, [50] * 100, ["B"] * 100,
                "m-1", "c-1", "api")
try:
    log.record(rows)
    print(json.dumps({"refused": False}))
except ScoringLogUnavailable as error:
    print(json.dumps({"refused": True, "reason": str(error), "healthy": log.healthy}))
"""


def test_when_journal_and_database_both_fail_record_refuses(tmp_path):
    database = tmp_path / "log.db"
    database.mkdir()  # the database fails too
    done = subprocess.run(
        [sys.executable, "-c", BOTH_FAIL, f"sqlite:///{database}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["refused"] and not answer["healthy"]
    assert "journal failed" in answer["reason"] and "database is unavailable" in answer["reason"]


def test_a_row_the_database_refuses_is_set_aside_not_its_batch(store):
    log = ScoringLog(store.url, store.journal)
    if store.url.startswith("sqlite"):  # SQLite stores a NUL byte: a rule that refuses one id
        engine = sa.create_engine(store.url)
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
