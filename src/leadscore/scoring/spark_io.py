"""Reading and writing on Spark's driver: the format of a source or sink from its name, leads
read as the local CLI reads them (CSV as text, repeated header names renamed by the one CSV rule,
nanosecond Parquet timestamps), scores written to any sink, and where rejected rows and the
scoring log go."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from leadscore.core.csvfile import HEADER_RULE, column_names
from leadscore.scoring.batch_input import BatchInputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

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
