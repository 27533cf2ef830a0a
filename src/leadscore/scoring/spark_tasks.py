"""What runs on Spark's executors: the shipped bundle (verified again on arrival, compiled once
per Python worker), the per-partition scoring through the local CLI's `batch.score_chunk`, the
run's counts, and each task's share of the Parquet scoring log."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from leadscore.model.bundle import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    BundleError,
    load_bundle,
    verified_manifest,
    verify_bundle,
)
from leadscore.scoring import output
from leadscore.scoring.batch import REJECT_REASON, score_chunk
from leadscore.scoring.behaviour import with_collected_events
from leadscore.scoring.log_table import COLUMNS as LOG_COLUMNS
from leadscore.scoring.log_table import scored_leads
from leadscore.scoring.scorer import Scorer

if TYPE_CHECKING:
    from pyspark import Accumulator, Broadcast

log = logging.getLogger(__name__)

LOG_SOURCE = "spark"
LOG_PARTITION = "scored_date"
LOG_ARROW_TYPES = {  # the log table's column types (by Python type) as Arrow types
    str: pa.string(),
    float: pa.float64(),
    int: pa.int64(),
    datetime: pa.timestamp("us", tz="UTC"),
}
LOG_FLUSH_ROWS = 1_000_000  # a task writes its log rows at least every this many rows
# the output's columns, as Spark types and as the Arrow types the executors hand back
ARROW_TYPES = {"string": pa.string(), "double": pa.float64(), "long": pa.int64()}


# --- shipping the bundle -------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedBundle:
    """A sealed bundle's files as bytes, and the SHA-256 of its manifest (checked on arrival)."""

    files: dict[str, bytes]
    manifest_sha256: str


def pack_bundle(directory: Path | str) -> ShippedBundle:
    """Read a bundle directory's files once and verify those bytes (signature, then every
    file) before broadcasting them."""
    directory = Path(directory)
    names = [MANIFEST_FILE, SIGNATURE_FILE, *sorted(verified_manifest(directory))]
    files = {name: (directory / name).read_bytes() for name in names}
    with tempfile.TemporaryDirectory(prefix="leadscore-bundle-") as target:
        for name, data in files.items():
            (Path(target) / name).write_bytes(data)
        verify_bundle(Path(target))
    return ShippedBundle(files, hashlib.sha256(files[MANIFEST_FILE]).hexdigest())


def unpack_scorer(shipped: ShippedBundle) -> Scorer:
    """Verify the shipped files (manifest digest, then every file) and compile the scorer."""
    manifest = shipped.files.get(MANIFEST_FILE, b"")
    if hashlib.sha256(manifest).hexdigest() != shipped.manifest_sha256:
        raise BundleError("the shipped bundle's manifest does not match the driver's digest")
    for name in shipped.files:
        if Path(name).name != name or name in ("", ".", ".."):
            raise BundleError(f"the shipped bundle holds a file with a path: {name!r}")
    with tempfile.TemporaryDirectory(prefix="leadscore-bundle-") as target:
        for name, data in shipped.files.items():
            (Path(target) / name).write_bytes(data)
        # the driver checked the signature; this manifest is the one it authenticated
        bundle = load_bundle(target, manifest_sha256=shipped.manifest_sha256)
    return Scorer.from_bundle(bundle)


_SCORERS: dict[str, Scorer] = {}  # per Python worker: manifest digest -> compiled scorer


def scorer_for(shipped: ShippedBundle) -> Scorer:
    """The compiled scorer of a shipped bundle, built once per Python process."""
    scorer = _SCORERS.get(shipped.manifest_sha256)
    if scorer is None:
        scorer = _SCORERS[shipped.manifest_sha256] = unpack_scorer(shipped)
        log.info("scorer %s compiled in process %d", scorer.model_version, os.getpid())
    return scorer


# --- counting across executors -------------------------------------------------------------


class Counts:
    """An accumulator parameter (pyspark's `AccumulatorParam` protocol) adding dicts of counts.

    Spark merges task updates once per successful task; a speculative or retried task may still
    count twice, so the counts are a run summary, never the record (the output is).
    """

    def zero(self, value: dict[str, int]) -> dict[str, int]:
        return {}

    def addInPlace(self, value1: dict[str, int], value2: dict[str, int]) -> dict[str, int]:
        for key, count in value2.items():
            value1[key] = value1.get(key, 0) + count
        return value1


def tally(scored: pd.DataFrame, rejected: pd.DataFrame) -> dict[str, int]:
    counts = {"scored": len(scored), "rejected": len(rejected)}
    for grade, count in scored["grade"].value_counts().items():
        counts[f"grade {grade}"] = int(count)
    return counts


# --- the scoring log -----------------------------------------------------------------------


def log_table(scored: pd.DataFrame, stamp: datetime) -> pa.Table:
    """Rows of the scoring log (the columns of `scoring.log_table`'s table) plus the date
    partition."""
    n = len(scored)
    made = {"scored_at": [stamp] * n, "source": [LOG_SOURCE] * n}
    arrays = {
        column.name: pa.array(
            made[column.name] if column.name in made else scored[column.name].to_numpy(),
            LOG_ARROW_TYPES[column.type.python_type],
        )
        for column in scored_leads.columns
        if column.name in LOG_COLUMNS
    }
    arrays[LOG_PARTITION] = pa.array([stamp.date().isoformat()] * n, pa.string())
    return pa.table(arrays)


@dataclass
class TaskLog:
    """One task's share of the Parquet scoring log: buffered, written as its own file(s)."""

    root: str
    stamp: datetime
    _tables: list[pa.Table] = field(default_factory=list)
    _rows: int = 0

    def add(self, scored: pd.DataFrame) -> None:
        if len(scored):
            self._tables.append(log_table(scored, self.stamp))
            self._rows += len(scored)
        if self._rows >= LOG_FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._tables:
            return
        import pyarrow.parquet as pq

        pq.write_to_dataset(
            pa.concat_tables(self._tables),
            self.root,
            partition_cols=[LOG_PARTITION],
            basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
        self._tables, self._rows = [], 0


# --- the per-partition functions (run on the executors) ------------------------------------


def score_partition(
    batches: Iterator[pa.RecordBatch],
    bundle: Broadcast[ShippedBundle],
    reasons: bool,
    counts: Accumulator[dict[str, int]],
    log_root: str | None,
    stamp: datetime,
    as_of: pd.Timestamp | None = None,
) -> Iterator[pa.RecordBatch]:
    """`mapInArrow` body: each Arrow batch becomes a table as the local CLI reads a Parquet
    batch (`to_pandas`) and is scored with the local CLI's `score_chunk` (with `as_of`, after
    its behaviour features, from the events collected beside each lead)."""
    scorer = scorer_for(bundle.value)
    schema = pa.schema(
        [(name, ARROW_TYPES[kind]) for name, kind in output.columns(reasons).items()]
    )
    task_log = TaskLog(log_root, stamp) if log_root else None
    for batch in batches:
        if not batch.num_rows:
            continue
        chunk = batch.to_pandas()
        if as_of is not None:
            chunk = with_collected_events(scorer, chunk, as_of)
        scored, rejected = score_chunk(scorer, chunk, reasons=reasons)
        counts.add(tally(scored, rejected))
        if task_log is not None:
            task_log.add(scored)
        yield pa.RecordBatch.from_pandas(scored, schema=schema, preserve_index=False)
    if task_log is not None:
        task_log.flush()


def rejected_partition(
    batches: Iterator[pa.RecordBatch], bundle: Broadcast[ShippedBundle]
) -> Iterator[pa.RecordBatch]:
    """`mapInArrow` body of the second pass: the rejected rows as read, with their reason."""
    scorer = scorer_for(bundle.value)
    for batch in batches:
        if batch.num_rows:
            _, rejected = score_chunk(scorer, batch.to_pandas())
            schema = batch.schema.append(pa.field(REJECT_REASON, pa.string()))
            yield pa.RecordBatch.from_pandas(rejected, schema=schema, preserve_index=False)
