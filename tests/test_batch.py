"""`leadscore score IN -o OUT`: chunks, rejects with reasons, and the API's exact answers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import API_KEY
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.core.schema import FeatureSpec
from leadscore.model.bundle import load_bundle
from leadscore.scoring.scorer import score_leads


def run_score(*args: str):
    """The real `leadscore score` command, run in-process."""
    return CliRunner().invoke(app, ["score", *args])


@pytest.fixture(scope="module")
def leads_csv(tmp_path_factory, tiny_split, tiny_bundle_dir) -> Path:
    spec = FeatureSpec.from_dict(load_bundle(tiny_bundle_dir).card["features"])
    path = tmp_path_factory.mktemp("batch") / "leads.csv"
    tiny_split.test.head(500)[["lead_id", *spec.fields]].to_csv(path, index=False)
    return path


def test_batch_scores_equal_the_pipeline_in_chunks(tmp_path, leads_csv, tiny_bundle_dir):
    out = tmp_path / "scores.parquet"
    database = tmp_path / "log.db"
    done = run_score(
        str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir), "--chunk-size", "128",
        "--database-url", f"sqlite:///{database}",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "scored 500 leads" in done.output
    scores = pd.read_parquet(out)
    bundle = load_bundle(tiny_bundle_dir)
    expected = score_leads(bundle, pd.read_csv(leads_csv, dtype={"lead_id": str}))
    np.testing.assert_allclose(scores["probability"], expected["probability"], atol=1e-12)
    assert (scores["grade"] == expected["grade"]).all()
    assert (scores["lead_id"] == expected["lead_id"].astype(str)).all()
    with sqlite3.connect(database) as connection:
        count, source = connection.execute(
            "SELECT COUNT(*), MIN(source) FROM scored_leads"
        ).fetchone()
    assert (count, source) == (500, "batch")


def test_bad_rows_are_rejected_with_their_reason(tmp_path, leads_csv, tiny_bundle_dir):
    frame = pd.read_csv(leads_csv, dtype=str)
    frame.loc[3, "website_visits"] = "lots"
    frame.loc[5, "pages_per_visit"] = "-2"
    frame.loc[8, "lead_id"] = None
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 0, done.output
    assert len(pd.read_csv(out)) == len(frame) - 3
    rejected = pd.read_csv(tmp_path / "scores.rejected.csv")
    assert rejected["rejected_reason"].tolist() == [
        "website_visits: not a valid value",
        "pages_per_visit: must be >= 0",
        "lead_id: missing",
    ]


def test_a_file_without_lead_ids_is_refused(tmp_path, tiny_bundle_dir):
    source = tmp_path / "no_ids.csv"
    pd.DataFrame({"channel": ["webinar"]}).to_csv(source, index=False)
    done = run_score(str(source), "-o", str(tmp_path / "o.csv"), "--model", str(tiny_bundle_dir))
    assert done.exit_code == 1 and "no 'lead_id' column" in done.output


@pytest.mark.server
def test_api_and_batch_cli_give_identical_results(tmp_path, served, leads_csv, tiny_bundle_dir):
    out = tmp_path / "scores.csv"
    done = run_score(
        str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir), "--reasons", "--no-log"
    )
    assert done.exit_code == 0, done.output
    batch = pd.read_csv(out, dtype={"lead_id": str}, keep_default_na=False).head(40)

    spec = FeatureSpec.from_dict(load_bundle(tiny_bundle_dir).card["features"])
    frame = pd.read_csv(leads_csv, dtype={"lead_id": str}).head(40)
    leads = []
    for record in frame.to_dict("records"):
        lead = {"lead_id": record["lead_id"]}
        for name in spec.fields:
            value = record[name]
            if pd.isna(value):
                continue
            lead[name] = bool(value) if name in spec.boolean else value
            if name in spec.numeric:
                lead[name] = float(value)
        leads.append(lead)
    answer = served[0].client.post(
        "/v1/score", json={"leads": leads}, headers={"X-API-Key": API_KEY}
    )
    api = answer.json()["results"]
    for row, result in zip(batch.to_dict("records"), api, strict=True):
        assert row["lead_id"] == result["lead_id"]
        assert row["probability"] == result["probability"]
        assert (row["score"], row["grade"]) == (result["score"], result["grade"])
        assert json.loads(row["explanation"]) == result["explanation"]
        assert row["warnings"] == "; ".join(result["warnings"])
