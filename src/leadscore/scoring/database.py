"""The scoring log's database, as the writer sees it: bounded calls, what an error means, where.

- **Timeouts.** Every engine has a connect timeout, a statement timeout and a lock timeout
  (PostgreSQL: `connect_timeout`, `statement_timeout`, `lock_timeout`; SQLite: the busy
  timeout), so no call waits on a database without end, except on a server whose processes
  are stopped (no server-side timeout fires then; the writer notices the call running past
  its timeout and turns health red, see `leadscore.scoring.log`).
- **Errors.** `is_data_error` tells a row the database refuses for its values (the row is set
  aside) from a database that cannot take rows now (connection, read-only, lock, resources:
  every row waits in the journal and is retried). Anything not known to be a data error counts
  as transient: a row is never set aside on a guess.
- **Destination.** `destination_of` names the database a URL points to, without user,
  password or options, and fingerprints it; a journal records it (`leadscore.scoring.journal`)
  and ships nowhere else.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

DEFAULT_TIMEOUT_SECONDS = 5.0

# PostgreSQL SQLSTATE classes of errors that say nothing about the row: connection (08),
# transaction state such as read-only (25), rollback (40), insufficient resources (53), object
# not in state such as a lock not available (55), operator intervention such as a statement
# timeout or a shutdown (57), system and internal errors (58, XX), access and schema (42:
# privileges revoked, a table dropped: the writer recreates it).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "25", "40", "42", "53", "55", "57", "58", "XX"})
# Errors about the values of a row: data exception (22), integrity (23), program limits such
# as an index row too big (54), a trigger's own refusal (P0).
DATA_SQLSTATE_CLASSES = frozenset({"22", "23", "54", "P0"})
# SQLite result codes about the row's values (the rest, BUSY, READONLY, IOERR, FULL, CANTOPEN,
# ERROR for a missing table, ..., mean the database cannot take writes now).
DATA_SQLITE_CODES = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE")


def row_id_column() -> sa.Column[int]:
    """The tables' surrogate key: BIGINT, autoincrement (SQLite's INTEGER key is 64-bit)."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def is_sqlite_file(url: str) -> bool:
    return url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:")


def connect_args(url: str, timeout: float) -> dict[str, Any]:
    """Driver options that bound each call: connect, statement and lock timeouts."""
    backend = sa.make_url(url).get_backend_name()
    if backend == "sqlite":
        return {"timeout": timeout}  # the busy timeout: how long a write waits for a lock
    if backend == "postgresql":
        milliseconds = int(timeout * 1000)
        options = (
            f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds // 2} "
            f"-c idle_in_transaction_session_timeout={milliseconds * 4}"
        )
        given = sa.make_url(url).query
        found: dict[str, Any] = {"application_name": "leadscore-scoring-log"}
        if "connect_timeout" not in given:
            found["connect_timeout"] = max(2, math.ceil(timeout))  # libpq counts whole seconds
        if "options" not in given:  # options in the URL win (the operator chose them)
            found["options"] = options
        return found
    return {}


def engine_options(url: str, timeout: float) -> dict[str, Any]:
    """`create_engine` keyword arguments: bounded connects, statements and pool waits. A
    server's connections are pinged before use (a restarted server drops them); a SQLite
    file's are not: no server can drop them, and the ping was a statement on every read."""
    return {
        "pool_pre_ping": sa.make_url(url).get_backend_name() != "sqlite",
        "pool_timeout": timeout,
        "connect_args": connect_args(url, timeout),
    }


def sqlstate_of(error: BaseException) -> str | None:
    original = getattr(error, "orig", error)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


def is_data_error(error: BaseException) -> bool:
    """Whether the database refused the values of the rows (rather than being unable to write).

    Only such an error sets a row aside; every other one keeps the rows in the journal."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return False
    original = getattr(error, "orig", None) or error
    if isinstance(original, sqlite3.Error):
        name = getattr(original, "sqlite_errorname", "") or ""
        if name:
            return name.startswith(DATA_SQLITE_CODES)
        return isinstance(original, sqlite3.IntegrityError | sqlite3.DataError)
    state = sqlstate_of(error)
    if state:
        return state[:2] in DATA_SQLSTATE_CLASSES
    if isinstance(error, sa.exc.DataError | sa.exc.IntegrityError):
        return True  # refused by the driver before it reached the server (e.g. a NUL byte)
    if isinstance(error, sa.exc.StatementError) and not isinstance(error, sa.exc.DBAPIError):
        return isinstance(original, TypeError | ValueError)  # a value the driver cannot bind
    return isinstance(error, TypeError | ValueError)


def error_kind(error: BaseException) -> str:
    """`data` (the row) or `transient` (the database now), for logs and the health status."""
    return "data" if is_data_error(error) else "transient"


@dataclass(frozen=True)
class Destination:
    """The database a journal ships to: a name without credentials, and its fingerprint."""

    name: str  # e.g. postgresql://db.internal:5432/leads or sqlite:////srv/leadscore/log.db
    fingerprint: str  # 16 hex digits of SHA-256 over the name

    def __str__(self) -> str:
        return f"{self.name} (fingerprint {self.fingerprint})"


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}


def destination_of(url: str) -> Destination:
    """The database `url` writes to: backend, host, port and database; no user, password,
    driver or options (the same database through another driver or user is the same place)."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ":memory:"
        where = database if database == ":memory:" else str(Path(database).resolve())
        name = f"sqlite:///{where}"
    else:
        host = (parsed.host or "localhost").lower()
        port = parsed.port or DEFAULT_PORTS.get(backend)
        name = f"{backend}://{host}{f':{port}' if port else ''}/{parsed.database or ''}"
    return Destination(name, hashlib.sha256(name.encode()).hexdigest()[:16])


def state_dir() -> Path:
    """Where leadscore keeps local state: `$XDG_STATE_HOME/leadscore` (~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "leadscore"


def default_journal_dir(url: str) -> Path:
    """The journal of a destination: beside a SQLite file, else one directory per database
    under the state directory (never shared by two destinations, whatever the working
    directory)."""
    if is_sqlite_file(url):
        return Path(str(Path(sa.make_url(url).database or "").resolve()) + ".journal")
    destination = destination_of(url)
    backend = sa.make_url(url).get_backend_name()
    return state_dir() / "journals" / f"{backend}-{destination.fingerprint}"
