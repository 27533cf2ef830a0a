"""The scoring service, tested through a real uvicorn process on a loopback port."""

from __future__ import annotations

import json
import math
import shutil
import signal
import sqlite3
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import ADMIN_KEY, API_KEY, MAX_BATCH
from prometheus_client.parser import text_string_to_metric_families

from leadscore.model.bundle import CARD_FILE, GRADING_FILE, MODEL_FILE, load_bundle, seal_bundle
from leadscore.model.train import booster_of, raw_output

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def client(served):
    return served[0].client


@pytest.fixture(scope="module")
def bundle(tiny_bundle_dir):
    return load_bundle(tiny_bundle_dir)


def as_request_leads(frame, fields) -> list[dict]:
    """Test-period leads as the marketing system would send them (JSON values, no nulls)."""
    leads = []
    for _, row in frame.iterrows():
        lead = {"lead_id": str(row["lead_id"])}
        for name in fields:
            value = row[name]
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is np.nan:
                continue
            if hasattr(value, "item"):
                value = value.item()
            lead[name] = (
                value if not isinstance(value, int) or isinstance(value, bool) else float(value)
            )
        leads.append(lead)
    return leads


@pytest.fixture(scope="module")
def leads(bundle, tiny_split):
    spec = bundle.card.spec
    return tiny_split.test.head(40).reset_index(drop=True), as_request_leads(
        tiny_split.test.head(40), spec.fields
    )


def test_health_endpoints_are_open(client, bundle):
    alive = client.get("/healthz").json()
    assert alive["status"] == "alive" and alive["scoring_log"] in ("ok", "connecting")
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["model_version"] == bundle.version
    assert ready["contract_version"] == bundle.contract_version
    assert client.get("/metrics").status_code == 200


def test_scoring_needs_an_api_key(client, leads):
    body = {"leads": leads[1][:1]}
    assert client.post("/v1/score", json=body).status_code == 401
    wrong = client.post("/v1/score", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert (
        client.post("/v1/score", json=body, headers={"X-API-Key": "other-key"}).status_code == 200
    )
    assert client.get("/v1/model").status_code == 401


def test_one_lead_matches_the_pipeline(client, bundle, leads):
    frame, request_leads = leads
    answer = client.post("/v1/score", json={"leads": request_leads[:1]}, headers=AUTH)
    assert answer.status_code == 200
    result = answer.json()["results"][0]
    spec = bundle.card.spec
    expected = bundle.pipeline.predict_proba(frame.head(1)[list(spec.fields)])[0, 1]
    assert result["lead_id"] == request_leads[0]["lead_id"]
    assert result["probability"] == pytest.approx(expected, abs=1e-12)
    assert result["grade"] == bundle.grading.grade(np.array([expected]))[0]
    raw = raw_output(bundle.pipeline, frame.head(1)[list(spec.fields)])
    assert result["score"] == int(bundle.grading.score(np.array([expected]), raw)[0])
    assert result["model_version"] == bundle.version
    assert result["contract_version"] == bundle.contract_version


def test_batch_reasons_add_up_to_the_models_raw_output(client, bundle, leads):
    frame, request_leads = leads
    answer = client.post("/v1/score", json={"leads": request_leads}, headers=AUTH).json()
    assert [r["lead_id"] for r in answer["results"]] == [lead["lead_id"] for lead in request_leads]
    spec = bundle.card.spec
    encoded = bundle.pipeline.named_steps["features"].transform(frame[list(spec.fields)])
    raw = booster_of(bundle.pipeline).decision_function(encoded)
    for result, expected_raw in zip(answer["results"], raw, strict=True):
        explanation = result["explanation"]
        total = explanation["base_value"] + explanation["rest"]
        total += sum(reason["contribution"] for reason in explanation["reasons"])
        assert total == pytest.approx(expected_raw, abs=1e-9)
        assert explanation["raw_output"] == pytest.approx(expected_raw, abs=1e-9)
        assert 1 <= len(explanation["reasons"]) <= 10
        for reason in explanation["reasons"]:
            assert reason["field"] in spec.fields and reason["phrase"]


def test_reasons_can_be_switched_off(client, leads):
    answer = client.post("/v1/score", json={"leads": leads[1][:3], "reasons": False}, headers=AUTH)
    assert all(result["explanation"] is None for result in answer.json()["results"])


def test_unseen_category_and_missing_field_are_warned(client):
    lead = {"lead_id": "w1", "channel": "carrier_pigeon", "demo_requested": True}
    result = client.post("/v1/score", json={"leads": [lead]}, headers=AUTH).json()["results"][0]
    assert any("carrier_pigeon" in w and "not seen in training" in w for w in result["warnings"])
    assert any(w.startswith("website_visits: missing") for w in result["warnings"])


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"website_visits": "three"}, "leads[0].website_visits", "valid number"),
        ({"website_visits": -1}, "leads[0].website_visits", "greater than or equal to 0"),
        ({"demo_requested": "yes"}, "leads[0].demo_requested", "valid boolean"),
        ({"sales_status": "qualified"}, "leads[0].sales_status", "Extra inputs"),
        ({"lead_id": None}, "leads[0].lead_id", "valid string"),
        ({"lead_id": "a\x00b"}, "leads[0].lead_id", "NUL byte"),
    ],
)
def test_bad_fields_get_422_naming_the_field(client, change, field, words):
    lead = {"lead_id": "bad-1", "channel": "webinar", **change}
    answer = client.post("/v1/score", json={"leads": [lead]}, headers=AUTH)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert any(item["field"] == field and words in item["message"] for item in errors), errors
    assert field in answer.json()["detail"]


def test_batch_over_the_limit_says_the_limit(client):
    leads = [{"lead_id": f"l{i}"} for i in range(MAX_BATCH + 1)]
    answer = client.post("/v1/score", json={"leads": leads}, headers=AUTH)
    assert answer.status_code == 422
    assert f"at most {MAX_BATCH}" in answer.json()["detail"]


def test_oversized_body_gets_413(client):
    answer = client.post(
        "/v1/score",
        content=b'{"leads": [' + b" " * (300 * 1024) + b"]}",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert "limit of 262144 bytes" in answer.json()["detail"]


def test_malformed_json_gets_422(client):
    answer = client.post(
        "/v1/score", content=b'{"leads": [', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422


def test_model_card(client, bundle):
    card = client.get("/v1/model", headers=AUTH).json()
    assert card["model_version"] == bundle.version
    assert card["training_data"]["sha256"] == bundle.card.training_data.sha256
    assert "valid_roc_auc" in card["metrics"]
    assert card["contract"]["version"] == bundle.contract_version
    assert set(card["grading"]["thresholds"]) == {"A", "B", "C"}


def test_openapi_has_examples(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Lead"]["examples"][0]["lead_id"]
    assert "maxItems" in json.dumps(schema["components"]["schemas"]["ScoreRequest"])


def test_the_openapi_example_is_made_up_and_scores(client, bundle, tiny_split):
    """/openapi.json is public: its example lead is synthetic, no value of a training record
    (id, job title, industry, ...), and it is a valid request."""
    schema = client.get("/openapi.json").json()
    example = schema["components"]["schemas"]["Lead"]["examples"][0]
    spec = bundle.card.spec
    assert example["lead_id"] == "EXAMPLE-0001"
    assert {example[name] for name in spec.categorical} == {"example"}
    training = pd.concat([tiny_split.train, tiny_split.valid])
    for name in spec.categorical:
        assert example[name] not in set(training[name].dropna().astype(str))
    assert example["lead_id"] not in set(training["lead_id"])
    request = schema["components"]["schemas"]["ScoreRequest"]["examples"][0]
    answer = client.post("/v1/score", json=request, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["lead_id"] == "EXAMPLE-0001"


def test_every_scored_lead_is_logged(served, client, bundle):
    lead_ids = [f"logged-{i}" for i in range(7)]
    body = {"leads": [{"lead_id": lead_id} for lead_id in lead_ids], "reasons": False}
    results = client.post("/v1/score", json=body, headers=AUTH).json()["results"]
    database = served[1]
    deadline = time.monotonic() + 10
    rows = []
    while time.monotonic() < deadline and len(rows) < len(lead_ids):
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT lead_id, probability, grade, model_version, contract_version, source "
                "FROM scored_leads WHERE lead_id LIKE 'logged-%' ORDER BY id"
            ).fetchall()
        time.sleep(0.1)
    assert [row[0] for row in rows] == lead_ids
    for row, result in zip(rows, results, strict=True):
        assert row[1] == pytest.approx(result["probability"]) and row[2] == result["grade"]
        assert row[3:] == (bundle.version, bundle.contract_version, "api")


def scraped(client) -> dict[tuple[str, tuple], float]:
    """The service's /metrics as (sample name, sorted labels) -> value (Prometheus' own parser)."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def test_metrics_count_leads_by_grade(client, leads):
    before = scraped(client)
    answer = client.post("/v1/score", json={"leads": leads[1]}, headers=AUTH).json()
    after = scraped(client)
    scored = Counter(result["grade"] for result in answer["results"])
    for grade in "ABCD":  # each grade's counter moved by exactly the leads given that grade
        key = ("leadscore_leads_scored_total", (("grade", grade),))
        assert after.get(key, 0) - before.get(key, 0) == scored[grade], grade
    requests = ("leadscore_http_requests_total", (("route", "/v1/score"), ("status", "200")))
    assert after[requests] - before.get(requests, 0) == 1


# --- reload ------------------------------------------------------------------------------


def reversion(directory, version: str) -> None:
    """Make the bundle in `directory` a different model version (and seal it again)."""
    card = json.loads((directory / CARD_FILE).read_text())
    grading = json.loads((directory / GRADING_FILE).read_text())
    card["model_version"] = grading["model_version"] = version
    (directory / CARD_FILE).write_text(json.dumps(card))
    seal_bundle(directory, grading)


@pytest.fixture()
def own_bundle(tmp_path, tiny_bundle_dir):
    return shutil.copytree(tiny_bundle_dir, tmp_path / "models")


def test_reload_by_admin_and_sighup_and_a_failed_reload_keeps_serving(start_server, own_bundle):
    server = start_server(own_bundle)
    client = server.client
    admin = {"X-Admin-Key": ADMIN_KEY}
    assert client.post("/admin/reload").status_code == 401

    reversion(own_bundle, "v-next")  # a new bundle appears: reload swaps to it
    answer = client.post("/admin/reload", headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reloaded"] and answer.json()["serving"] == "v-next"
    scored = client.post("/v1/score", json={"leads": [{"lead_id": "a"}]}, headers=AUTH).json()
    assert scored["model_version"] == "v-next"

    with (own_bundle / MODEL_FILE).open("ab") as handle:  # a broken bundle: the old one stays
        handle.write(b"tampered")
    answer = client.post("/admin/reload", headers=admin)
    assert answer.status_code == 409
    assert "does not match its manifest" in answer.json()["error"]
    assert answer.json()["serving"] == "v-next"
    scored = client.post("/v1/score", json={"leads": [{"lead_id": "a"}]}, headers=AUTH)
    assert scored.status_code == 200 and scored.json()["model_version"] == "v-next"
    ready = client.get("/readyz").json()
    assert ready["model_version"] == "v-next" and ready["last_reload"]["reloaded"] is False
    assert 'leadscore_model_reloads_total{outcome="failed"} 1.0' in client.get("/metrics").text

    with (own_bundle / MODEL_FILE).open("r+b") as handle:  # repaired and re-versioned: SIGHUP
        handle.truncate(handle.seek(0, 2) - len(b"tampered"))
    reversion(own_bundle, "v-hup")
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and client.get("/readyz").json()["model_version"] != "v-hup":
        time.sleep(0.2)
    assert client.get("/readyz").json()["model_version"] == "v-hup"


def test_admin_is_disabled_without_an_admin_key(start_server, own_bundle):
    server = start_server(own_bundle, admin_key="")
    answer = server.client.post("/admin/reload", headers={"X-Admin-Key": "anything"})
    assert answer.status_code == 403 and "LEADSCORE_ADMIN_KEY" in answer.json()["detail"]


def test_a_tampered_bundle_is_refused_at_start(start_server, own_bundle):
    with (own_bundle / MODEL_FILE).open("r+b") as handle:
        handle.truncate(1000)
    server = start_server(own_bundle, wait=False)
    assert server.process.wait(60) != 0
    assert "tampered or truncated" in server.output()
