"""The scoring log across processes: rows of a killed writer are replayed exactly once (by the
library and by `leadscore scoring-log replay`), and a writer whose journal and database both
fail refuses to record. Each test starts Python processes, so end to end."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pandas as pd
from conftest import PROJECT_ROOT
from scoring_log_stores import table_ids

from leadscore.scoring.journal_files import unshipped_rows
from leadscore.scoring.log import replay
from leadscore.scoring.log_table import ensure_schema, make_engine

KILLED_WRITER = """
import os, signal, sys
from leadscore.scoring.log import ScoringLog
from leadscore.scoring.log_table import rows_for
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
from leadscore.scoring.log import ScoringLog, ScoringLogUnavailable
from leadscore.scoring.log_table import rows_for
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
