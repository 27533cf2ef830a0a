"""The scoring log writes every row, and a failing database is loud and loses nothing."""

from __future__ import annotations

import json
import logging

import pandas as pd
import sqlalchemy as sa

from leadscore.scoring.log import ScoringLog, rows_for
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


def test_rows_are_written_in_batches(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = ScoringLog(url)
    for start in range(0, 1200, 100):
        log.record(some_rows(100, prefix=f"b{start}"))
    assert log.flush(10)
    log.close()
    assert log.stats.written == 1200 and log.healthy
    rows = read_scoring_log(url)
    assert len(rows) == 1200 and set(rows["source"]) == {"api"}
    assert rows["scored_at"].notna().all()


def test_a_failing_database_is_reported_and_rows_are_spilled(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = ScoringLog(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # the table disappears under the service
        connection.execute(sa.text("DROP TABLE scored_leads"))
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="leadscore.scoring_log"):
        log.record(some_rows(5))
        assert log.flush(10)
    log.close()
    assert not log.healthy and log.stats.failed_writes == 1 and log.stats.spilled == 5
    assert "no such table" in log.stats.last_error
    assert any("could not write 5 rows" in message for message in caplog.messages)
    spilled = [json.loads(line) for line in log.spill_path.read_text().splitlines()]
    assert [row["lead_id"] for row in spilled] == [f"lead-{i}" for i in range(5)]


def test_feedback_joins_outcomes_to_the_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = ScoringLog(url)
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
