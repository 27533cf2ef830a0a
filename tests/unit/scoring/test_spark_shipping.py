"""What the Spark route does without a Spark session: the shipped bundle is verified before it
is unpickled, and sources and sinks are named by their format (the Spark runs themselves:
tests/e2e/test_spark.py)."""

from __future__ import annotations

import dataclasses

import pytest

from leadscore.model.bundle import MODEL_FILE, BundleError
from leadscore.scoring.spark_io import format_of, rejected_sink_for
from leadscore.scoring.spark_tasks import pack_bundle, unpack_scorer


def test_a_tampered_file_is_refused_before_unpickling(tiny_bundle_dir):
    shipped = pack_bundle(tiny_bundle_dir)
    files = dict(shipped.files)
    files[MODEL_FILE] = files[MODEL_FILE][:-10]  # truncated in transit
    with pytest.raises(BundleError, match="does not match its manifest"):
        unpack_scorer(dataclasses.replace(shipped, files=files))
    with pytest.raises(BundleError, match="with a path"):
        unpack_scorer(dataclasses.replace(shipped, files={**files, "../x": b""}))


def test_formats_and_rejected_sinks():
    assert format_of("s3://lake/leads.parquet") == "parquet"
    assert format_of("exports/leads.csv.gz") == "csv"
    assert format_of("crm.leads") == "table"
    with pytest.raises(ValueError, match="cannot tell the format"):
        format_of("s3://lake/leads/")
    assert rejected_sink_for("out/scores.parquet", "parquet") == "out/scores.rejected.parquet"
    assert rejected_sink_for("crm.scores", "table") == "crm.scores_rejected"


def test_a_header_spark_read_gets_the_names_the_local_reader_gives():
    from leadscore.scoring.spark_io import header_names

    assert header_names(["Quota0", "Owner", "Quota2", "x"]) == ["Quota", "Owner", "Quota (2)", "x"]
    assert header_names(["a0", "b1", "Quota7"]) == ["a0", "b1", "Quota7"]  # no repeat: as read
    assert header_names(["Quota0", "quota1"]) == ["Quota", "quota"]  # Spark ignores case
