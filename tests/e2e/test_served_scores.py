"""A real server (uvicorn) answers as the in-process scorers do: the batch CLI's exact answers
over the API, and a logistic regression served with its reasons."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import API_KEY
from exports import bundle_with
from stages import run_score

from leadscore.model.bundle import load_bundle


@pytest.mark.server
def test_api_and_batch_cli_give_identical_results(tmp_path, served, leads_csv, tiny_bundle_dir):
    out = tmp_path / "scores.csv"
    done = run_score(
        str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir), "--reasons", "--no-log"
    )
    assert done.exit_code == 0, done.output
    batch = pd.read_csv(out, dtype={"lead_id": str}, keep_default_na=False).head(40)

    spec = load_bundle(tiny_bundle_dir).card.spec
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


@pytest.mark.server
def test_the_service_serves_a_regression_with_reasons(
    start_server, exports, choice_params_raw, tmp_path
):
    linear_bundle = bundle_with("isotonic", exports, choice_params_raw, tmp_path)
    server = start_server(linear_bundle.path)
    test = exports["sparse"].test
    lead = test[test["partner_score"].notna()].iloc[0]
    request = {"lead_id": lead["lead_id"], "channel": lead["channel"]}
    request.update({name: float(lead[name]) for name in linear_bundle.card.features.numeric})
    answer = server.client.post(
        "/v1/score",
        json={"leads": [request]},
        headers={"X-API-Key": "test-key-123"},  # tests/conftest.py API_KEY
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()["results"][0]
    expected = linear_bundle.pipeline.predict_proba(test[test["lead_id"] == lead["lead_id"]])[0, 1]
    assert result["probability"] == pytest.approx(expected, abs=1e-12)
    assert result["explanation"]["reasons"][0]["field"] == "partner_score"
    assert result["model_version"] == linear_bundle.version
