"""Reading the scoring log back for the reports: every scored row (the service's table, or the
Parquet log of Spark runs), the CRM events stored beside it, and the rows still only in the
journal. The feedback and follow-up stages call these; the views get the frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leadscore.scoring.crossings import Crossing
from leadscore.scoring.log_table import TABLE

LAKE_SCHEMES = ("s3://", "s3a://", "gs://", "abfs://", "abfss://", "hdfs://", "file://", "dbfs:/")


def database_url(url: str) -> str:
    """A SQLAlchemy URL, or a SQLite file path made one."""
    return url if "://" in url else f"sqlite:///{url}"


def read_scoring_log(url: str) -> pd.DataFrame:
    """All rows of the scoring log: the service's table (SQLAlchemy URL or SQLite file path), or
    the Parquet log of Spark runs (a directory or URI, partitioned by date)."""
    from sqlalchemy import create_engine

    if url.rstrip("/").endswith(".parquet") or Path(url).is_dir() or url.startswith(LAKE_SCHEMES):
        rows = pd.read_parquet(url).drop(columns="scored_date", errors="ignore")
        stamps = pd.to_datetime(rows["scored_at"], utc=True).dt.tz_localize(None)  # as in SQL
        return rows.assign(scored_at=stamps)
    engine = create_engine(database_url(url))
    try:
        return pd.read_sql_table(TABLE, engine, parse_dates=["scored_at"])
    finally:
        engine.dispose()


def read_scores_and_events(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every scored row, every CRM event stored beside them: `lead_events`, from
    POST /v1/outcomes or `leadscore outcomes import`)."""
    from leadscore.scoring.outcomes import read_events

    return read_scoring_log(url), read_events(database_url(url))


def journal_backlog(url: str, journal_dir: Path | None = None) -> int:
    """Rows journaled for the scoring log `url` but not in its table yet (spilled, unreplayed)."""
    from leadscore.scoring.journal_files import unshipped_rows
    from leadscore.scoring.log import journal_dir_for

    return unshipped_rows(journal_dir or journal_dir_for(database_url(url)))


def read_nurture_view(url: str, until: pd.Timestamp, days: int) -> list[Crossing]:
    """The nurture view's crossings (leadscore.scoring.nurture) of the last `days` days up to
    `until`, from a scoring-log database and its event store ([] for a Parquet log: Spark runs
    keep no activity events)."""
    if url.rstrip("/").endswith(".parquet") or Path(url).is_dir() or url.startswith(LAKE_SCHEMES):
        return []
    from leadscore.scoring.events_store import EventStore
    from leadscore.scoring.nurture import nurture_of

    store = EventStore(database_url(url))
    try:
        return nurture_of(store, until.to_pydatetime(), days)
    finally:
        store.close()
