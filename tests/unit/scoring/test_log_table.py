"""The scoring log's table on a real SQLite file: the schema and its upgrade, the rows as the
driver binds them, idempotent inserts, the write probe and the newest scores read back."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from leadscore.scoring.journal import encode_row
from leadscore.scoring.log_table import (
    COLUMNS,
    TABLE,
    decode_line,
    decode_or_none,
    ensure_schema,
    insert_statement,
    latest_scores,
    make_engine,
    newest_rows,
    params_for,
    rows_for,
    write_entries,
    write_probe,
)

STAMP = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path):
    made = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'log.db'}")
    ensure_schema(made)
    yield made
    made.dispose()


def count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar_one()


def test_a_sqlite_file_gets_its_directory_and_write_ahead_logging(engine, tmp_path):
    assert (tmp_path / "deep" / "er" / "log.db").exists()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    assert COLUMNS == (
        "lead_id", "scored_at", "probability", "score", "grade", "model_version",
        "contract_version", "source",
    )  # fmt: skip


def test_rows_are_tuples_in_column_order_with_one_stamp():
    rows = rows_for(["L1", "L2"], [0.5, 0.25], [51, 26], ["A", "C"], "m1", "c1", "api", STAMP)
    assert rows == [
        ("L1", STAMP, 0.5, 51, "A", "m1", "c1", "api"),
        ("L2", STAMP, 0.25, 26, "C", "m1", "c1", "api"),
    ]
    (row,) = rows_for(["L1"], [0.5], [51], ["A"], "m1", "c1", "api")
    assert row[1].tzinfo is not None and abs(datetime.now(UTC) - row[1]) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        rows_for(["L1", "L2"], [0.5], [51], ["A"], "m1", "c1", "api")


def test_a_journal_line_decodes_back_to_its_entry_and_row():
    row = ("L1", STAMP, 0.5, 51, "A", "m1", "c1", "api")
    assert decode_line(encode_row("e1", row)) == ("e1", row)
    assert decode_or_none(encode_row("e1", row)) == ("e1", row)
    assert decode_or_none(b"not json\n") is None
    assert decode_or_none(b'["e1", "L1", 7]\n') is None  # no readable time


def test_the_insert_skips_an_entry_id_already_in_the_table(engine):
    assert insert_statement(engine) == (
        f"INSERT INTO {TABLE} (entry_id, lead_id, scored_at, probability, score, grade, "
        "model_version, contract_version, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (entry_id) DO NOTHING"
    )
    row = ("L1", STAMP, 0.5, 51, "A", "m1", "c1", "api")
    write_entries(engine, [("e1", row), ("e2", row)])
    write_entries(engine, [("e1", row)])
    assert count(engine) == 2


def test_nothing_to_write_touches_no_database(tmp_path):
    missing = make_engine(f"sqlite:///{tmp_path / 'none.db'}")  # no table
    write_entries(missing, [])
    with pytest.raises(sa.exc.OperationalError):
        write_entries(missing, [("e1", ("L1", STAMP, 0.5, 51, "A", "m1", "c1", "api"))])
    missing.dispose()


@pytest.fixture
def far_from_utc(monkeypatch):
    """The process's local time zone is not UTC (as on a server set to local time)."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_sqlite_stores_times_as_naive_utc_text(engine, far_from_utc):
    local = STAMP.astimezone(timezone(timedelta(hours=2)))
    naive = datetime(2026, 1, 2, 3, 4, 5)
    row = ("L1", local, 0.5, 51, "A", "m1", "c1", "api")
    assert params_for(engine, [("e1", row)]) == [
        ("e1", "L1", "2026-01-02 03:04:05.600000", 0.5, 51, "A", "m1", "c1", "api")
    ]
    assert (
        params_for(engine, [("e2", ("L1", naive, *row[2:]))])[0][2] == "2026-01-02 03:04:05.000000"
    )
    write_entries(engine, [("e1", row)])
    with engine.connect() as connection:
        stored = connection.execute(sa.text(f"SELECT scored_at FROM {TABLE}")).scalar_one()
    assert stored == "2026-01-02 03:04:05.600000"


def test_the_write_probe_leaves_no_row_and_fails_where_writes_fail(engine, tmp_path):
    write_probe(engine)
    assert count(engine) == 0
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with pytest.raises(sa.exc.OperationalError):
        write_probe(bare)
    bare.dispose()


def test_an_old_table_gets_entry_ids_with_a_unique_index(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL, "
            "scored_at DATETIME NOT NULL, probability FLOAT NOT NULL, score INTEGER NOT NULL, "
            "grade VARCHAR(1) NOT NULL, model_version TEXT NOT NULL, "
            "contract_version TEXT NOT NULL, source VARCHAR(16) NOT NULL)"
        )
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    ensure_schema(engine)  # a second time changes nothing
    columns = {c["name"] for c in sa.inspect(engine).get_columns(TABLE)}
    assert "entry_id" in columns
    row = ("L1", STAMP, 0.5, 51, "A", "m1", "c1", "api")
    write_entries(engine, [("e1", row)])
    write_entries(engine, [("e1", row)])
    assert count(engine) == 1  # the unique index makes the replay a no-op
    engine.dispose()


def test_the_newest_score_of_each_lead_is_read_in_pages(engine):
    early, late = STAMP, STAMP + timedelta(hours=1)
    entries = [(f"e{i}", (f"L{i}", early, 0.1, 10, "D", "m", "c", "api")) for i in range(501)]
    entries += [("new", ("L500", late, 0.9, 90, "A", "m", "c", "api"))]
    entries += [("old", ("L0", early - timedelta(days=1), 0.9, 95, "A", "m", "c", "api"))]
    write_entries(engine, entries)
    found = latest_scores(engine, [f"L{i}" for i in range(501)] + ["unknown"])
    assert len(found) == 501  # the 501st lead is in the second page of 500
    assert found["L500"] == (90, "A")  # the later score
    assert found["L0"] == (10, "D")  # the one scored after the older entry
    assert found["L7"] == (10, "D")


def test_rows_are_read_newest_first_below_an_id_or_oldest_first_above_one(engine):
    write_entries(
        engine, [(f"e{i}", (f"L{i}", STAMP, 0.5, i, "B", "m", "c", "api")) for i in range(5)]
    )
    newest = newest_rows(engine, None, None)
    assert [tuple(row) for row in newest] == [
        (5, "e4", "L4", 4, "B"), (4, "e3", "L3", 3, "B"), (3, "e2", "L2", 2, "B"),
        (2, "e1", "L1", 1, "B"), (1, "e0", "L0", 0, "B"),
    ]  # fmt: skip
    assert [row[0] for row in newest_rows(engine, 3, None)] == [2, 1]
    assert [row[0] for row in newest_rows(engine, None, 3)] == [4, 5]
    assert [row[0] for row in newest_rows(engine, 1, 3)] == [4, 5]  # following wins
