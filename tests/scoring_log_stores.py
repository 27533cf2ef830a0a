"""A pytest plugin of the suite (tests/conftest.py `pytest_plugins`): scoring-log databases of
each backend, for the scoring-log tests of both tiers. The PostgreSQL one starts a real server,
so its tests are marked `server` (`make test-fast` leaves them to `make test`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from leadscore.scoring.log_reader import read_scoring_log
from leadscore.scoring.log_table import rows_for


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


def until(condition: Callable[[], bool], seconds: float = 10.0, every: float = 0.02) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def table_ids(url: str) -> list[str]:
    return read_scoring_log(url)["lead_id"].tolist()


@dataclass
class Store:
    """A scoring-log database of one backend, its journal, and a way to take it down."""

    url: str
    journal: Path
    down: Callable[[], None]
    up: Callable[[], None]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.server)])
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
