"""The scoring log's table, `scored_leads`, and the calls the writer makes on it: create or
upgrade it, insert journaled rows idempotently (by entry id), probe that the database takes a
write, and read the newest scores (batch trends, the trend index). Engines are bounded by the
timeouts of `leadscore.scoring.database`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from leadscore.scoring.database import (
    DEFAULT_TIMEOUT_SECONDS,
    engine_options,
    is_sqlite_file,
    row_id_column,
)
from leadscore.scoring.journal import Row

DEFAULT_URL = "sqlite:///data/scoring_log.db"
TABLE = "scored_leads"

metadata = sa.MetaData()
scored_leads = sa.Table(
    TABLE,
    metadata,
    row_id_column(),
    sa.Column("entry_id", sa.Text, nullable=True, unique=True),
    sa.Column("lead_id", sa.Text, nullable=False, index=True),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)
COLUMNS = tuple(c.name for c in scored_leads.columns if c.name not in ("id", "entry_id"))


def make_engine(url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> sa.Engine:
    """An engine for the log (no connection yet) whose calls are bounded by `timeout` seconds
    (connect, statement, lock: `leadscore.scoring.database`); SQLite files get their directory
    and WAL."""
    if is_sqlite_file(url):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **engine_options(url, timeout))
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")

    return engine


def ensure_schema(engine: sa.Engine) -> None:
    """Create the table, or bring an older one up to date (entry ids, 64-bit ids)."""
    try:
        metadata.create_all(engine)
    except sa.exc.DBAPIError:  # created meanwhile by another process (check, then create)
        if not sa.inspect(engine).has_table(TABLE):
            raise
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns(TABLE)}
    with engine.begin() as connection:
        if "entry_id" not in columns:
            connection.exec_driver_sql(f"ALTER TABLE {TABLE} ADD COLUMN entry_id TEXT")
            connection.exec_driver_sql(
                f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{TABLE}_entry_id ON {TABLE} (entry_id)"
            )
        if engine.dialect.name == "postgresql" and not isinstance(
            columns["id"]["type"], sa.BigInteger
        ):
            connection.exec_driver_sql(f"ALTER TABLE {TABLE} ALTER COLUMN id TYPE BIGINT")


def rows_for(
    lead_ids: Iterable[str],
    probability: Iterable[float],
    score: Iterable[int],
    grade: Iterable[str],
    model_version: str,
    contract_version: str,
    source: str,
    scored_at: datetime | None = None,
) -> list[Row]:
    """Rows of the log as tuples in `COLUMNS` order (cheap to build on the request path).

    Values must be plain Python values (lists from `.tolist()`), as the database driver binds them.
    """
    stamp = scored_at or datetime.now(UTC)
    return [
        (lead_id, stamp, p, s, g, model_version, contract_version, source)
        for lead_id, p, s, g in zip(lead_ids, probability, score, grade, strict=True)
    ]


def decode_line(line: bytes) -> tuple[str, Row]:
    """A journal line back to (entry id, row)."""
    entry_id, lead_id, stamp, *rest = orjson.loads(line)
    return entry_id, (lead_id, datetime.fromisoformat(stamp), *rest)


def insert_statement(engine: sa.Engine) -> str:
    """INSERT that skips entry ids already in the table (replays are idempotent)."""
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    names = ("entry_id", *COLUMNS)
    return (
        f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))}) "
        "ON CONFLICT (entry_id) DO NOTHING"
    )


def write_probe(engine: sa.Engine) -> None:
    """Insert a row and roll it back: raises when the database cannot take writes now
    (read-only after a failover, locked, full), which a read would not show."""
    probe = rows_for(["leadscore-write-probe"], [0.0], [1], ["D"], "probe", "probe", "probe")
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.exec_driver_sql(
                insert_statement(engine), params_for(engine, [("probe", probe[0])])
            )
        finally:
            transaction.rollback()


def params_for(engine: sa.Engine, entries: list[tuple[str, Row]]) -> list[tuple[Any, ...]]:
    """(entry id, row) pairs as the driver binds them."""
    sqlite = engine.dialect.name == "sqlite"
    params = []
    for entry_id, row in entries:
        if sqlite:  # stored as SQLAlchemy stores SQLite datetimes (naive UTC text)
            stamp = row[1].astimezone(UTC) if row[1].tzinfo else row[1]
            row = (row[0], stamp.strftime("%Y-%m-%d %H:%M:%S.%f"), *row[2:])
        params.append((entry_id, *row))
    return params


def write_entries(engine: sa.Engine, entries: list[tuple[str, Row]]) -> None:
    """Insert (entry id, row) pairs in one transaction (raises on failure)."""
    if not entries:
        return
    params = params_for(engine, entries)
    with engine.begin() as connection:
        connection.exec_driver_sql(insert_statement(engine), params)


def latest_scores(engine: sa.Engine, lead_ids: list[str]) -> dict[str, tuple[int, str]]:
    """The newest (score, grade) in the table of each of these leads."""
    found: dict[str, tuple[int, str]] = {}
    columns = scored_leads.c
    for start in range(0, len(lead_ids), 500):
        query = (
            sa.select(columns.lead_id, columns.score, columns.grade)
            .where(columns.lead_id.in_(lead_ids[start : start + 500]))
            .order_by(columns.scored_at, columns.id)
        )
        with engine.connect() as connection:
            for lead, score, grade in connection.execute(query):
                found[lead] = (int(score), str(grade))
    return found


TREND_PAGE = 20_000  # rows the writer reads into the trend index per step


def newest_rows(engine: sa.Engine, before: int | None, after: int | None) -> list[Any]:
    """(id, entry id, lead, score, grade) of the table: newest first below `before` (warm-up),
    or oldest first above `after` (following other processes' rows)."""
    c = scored_leads.c
    query = sa.select(c.id, c.entry_id, c.lead_id, c.score, c.grade).limit(TREND_PAGE)
    if after is not None:
        query = query.where(c.id > after).order_by(c.id)
    else:
        query = query.order_by(c.id.desc())
        if before is not None:
            query = query.where(c.id < before)
    with engine.connect() as connection:
        return list(connection.execute(query))


def decode_or_none(line: bytes) -> tuple[str, Row] | None:
    """A journal line as (entry id, row), or None when it cannot be read."""
    try:
        return decode_line(line)
    except (ValueError, TypeError):
        return None
