"""File helpers shared by the stages: tables in CSV or Parquet, JSON reports."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


def read_table(path: Path | str, **csv_options: Any) -> pd.DataFrame:
    """Read a CSV or Parquet file, chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if path.suffix.lower() in {".csv", ".txt", ".gz"}:
        return pd.read_csv(path, **csv_options)
    raise ValueError(f"{path}: unsupported table format {path.suffix!r} (use .csv or .parquet)")


def write_json(path: Path | str, payload: Any) -> None:
    """Write JSON with a stable layout (sorted keys, trailing newline) so diffs stay small."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary file beside `path` to write; it replaces `path` only if the block succeeds.

    Readers see the old file or the new one, never a half-written one; on failure the old file
    stays and the temporary one is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # mode from umask
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
