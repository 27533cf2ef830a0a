"""Trust (issue 14): no secret served, no code run from an unauthenticated bundle, no answered
lead lost, and the service's edges (content type, slow or vanishing clients, open access)."""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import sys
import time

import joblib
import pytest
from conftest import ADMIN_KEY, API_KEY, PROJECT_ROOT
from stages import registered_champion

from leadscore.model.bundle import CARD_FILE, GRADING_FILE, MODEL_FILE, RUN_FILE, seal_bundle

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}
ADMIN = {"X-Admin-Key": ADMIN_KEY}


@pytest.fixture()
def own_bundle(tmp_path, tiny_bundle_dir):
    return shutil.copytree(tiny_bundle_dir, tmp_path / "models")


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def leads(n: int, prefix: str = "t") -> dict:
    return {"leads": [{"lead_id": f"{prefix}-{i}", "channel": "webinar"} for i in range(n)]}


def send_raw(port: int, request: bytes, wait_for_answer: bool = True) -> bytes:
    """Bytes on a loopback socket; the answer (until the server closes), or b"" if not waited."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        if not wait_for_answer:
            return b""
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
        return answer


# --- the shared server: content type, duplicates, /readyz, vanishing and slow clients --------


def test_a_body_that_is_not_json_gets_415(served):
    client = served[0].client
    body = json.dumps(leads(1, "cross-site"))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = client.post(
            "/v1/score", content=body, headers={**AUTH, "Content-Type": content_type}
        )
        assert answer.status_code == 415, content_type
    good = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/v1/score", content=body, headers=good).status_code == 200


def test_repeated_lead_ids_in_a_request_are_warned(served):
    body = {"leads": [{"lead_id": "dup"}, {"lead_id": "other"}, {"lead_id": "dup"}]}
    results = served[0].client.post("/v1/score", json=body, headers=AUTH).json()["results"]
    assert "lead_id: also in leads[0] of this request" in results[2]["warnings"]
    assert not any("also in" in w for w in results[0]["warnings"] + results[1]["warnings"])


def test_anonymous_readyz_shows_no_host_user_or_path(served):
    server, database = served
    anonymous = server.client.get("/readyz").text
    for private in (str(database), str(database.parent), "sqlite:", ".journal"):
        assert private not in anonymous
    ready = json.loads(anonymous)
    assert ready["ready"] and set(ready["scoring_log"]) >= {"healthy", "spilled", "lost"}
    detailed = server.client.get("/readyz", headers=AUTH).json()
    assert detailed["model_source"]  # a caller with a key may see where the model comes from


def test_a_client_leaving_mid_body_is_no_error(served):
    server = served[0]
    send_raw(
        server.port,
        b"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {API_KEY}\r\nContent-Length: 5000\r\n\r\n".encode()
        + b'{"leads": [{"lead_id": "gone',
        wait_for_answer=False,
    )  # and the connection closes
    deadline = time.monotonic() + 10
    metrics = ""
    while time.monotonic() < deadline and 'status="499"' not in metrics:
        metrics = server.client.get("/metrics").text
        time.sleep(0.1)
    assert 'route="/v1/score",status="499"' in metrics
    assert 'route="/v1/score",status="5' not in metrics
    output = server.output()
    assert "Traceback" not in output and "ERROR" not in output


def test_a_slow_body_times_out_with_408(served):
    server = served[0]  # LEADSCORE_BODY_TIMEOUT_SECONDS=2 in the fixture
    answer = send_raw(
        server.port,
        b"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {API_KEY}\r\nContent-Length: 5000\r\n\r\n".encode()
        + b'{"leads": [',  # ... and nothing more
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive in time" in answer


# --- reloads that must fail cleanly --------------------------------------------------------


class Payload:
    """Runs code when unpickled: creates `marker`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_reloads_of_a_tampered_or_foreign_bundle_fail_cleanly(start_server, own_bundle, tmp_path):
    server = start_server(own_bundle, duplicate_lead_ids="reject")
    client = server.client
    twice = {"leads": [{"lead_id": "x"}, {"lead_id": "x"}]}
    refused = client.post("/v1/score", json=twice, headers=AUTH)
    assert refused.status_code == 422 and "leads[1].lead_id: duplicate" in refused.json()["detail"]
    good_model = (own_bundle / MODEL_FILE).read_bytes()

    marker = tmp_path / "pwned"  # a malicious pickle, manifest recomputed, signature not
    joblib.dump(Payload(marker), own_bundle / MODEL_FILE)
    manifest = json.loads((own_bundle / "manifest.json").read_text())
    manifest[MODEL_FILE] = (
        __import__("hashlib").sha256((own_bundle / MODEL_FILE).read_bytes()).hexdigest()
    )
    (own_bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    answer = client.post("/admin/reload", headers=ADMIN)
    assert answer.status_code == 409 and "signature does not match the manifest" in answer.text
    assert not marker.exists()

    joblib.dump({"not": "a pipeline"}, own_bundle / MODEL_FILE)  # authentic, but not a model
    seal_bundle(own_bundle, json.loads((own_bundle / GRADING_FILE).read_text()))
    answer = client.post("/admin/reload", headers=ADMIN)
    assert answer.status_code == 409 and "does not hold a fitted leadscore pipeline" in answer.text
    ready = client.get("/readyz", headers=AUTH).json()
    assert ready["last_reload"]["reloaded"] is False and "pipeline" in ready["last_reload"]["error"]
    assert client.get("/readyz").json()["last_reload"]["error"] is None  # names files: key only
    assert 'leadscore_model_reloads_total{outcome="failed"} 2.0' in client.get("/metrics").text
    assert client.post("/v1/score", json=leads(1), headers=AUTH).status_code == 200

    (own_bundle / MODEL_FILE).write_bytes(good_model)
    card = json.loads((own_bundle / CARD_FILE).read_text())
    seal_bundle(own_bundle, json.loads((own_bundle / GRADING_FILE).read_text()))
    answer = client.post("/admin/reload", headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["serving"] == card["model_version"]
    assert "Task exception was never retrieved" not in server.output()


# --- open access -------------------------------------------------------------------------


def test_no_open_access_on_a_public_interface_without_keys(tiny_bundle_dir, caplog):
    import logging
    import os

    env = {
        **os.environ,
        "LEADSCORE_MODEL_URI": str(tiny_bundle_dir),
        "LEADSCORE_API_KEYS": "",
        "LEADSCORE_HOST": "0.0.0.0",
    }
    done = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/leadscore"), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 1 and "refusing to serve on 0.0.0.0 without API keys" in done.stderr

    from leadscore_serve.app import create_app
    from leadscore_serve.settings import Settings

    allowed = Settings(model_uri=str(tiny_bundle_dir), host="0.0.0.0", allow_unauthenticated=True)
    with caplog.at_level(logging.WARNING, logger="serve"):
        create_app(allowed)  # allowed when asked for, and still warned about
    assert any("no API keys" in message for message in caplog.messages)
    with caplog.at_level(logging.WARNING, logger="serve"):
        create_app(Settings(model_uri=str(tiny_bundle_dir)))  # loopback: warned too
    assert sum("no API keys" in message for message in caplog.messages) == 2


# --- PostgreSQL: no password anywhere, and no answered lead lost ---------------------------


def test_no_password_anywhere_and_no_answered_lead_lost(
    postgres, monkeypatch, tmp_path, start_server, tiny_models, tiny_split, tiny_params,
    tiny_grading_record,
):  # fmt: skip
    password = postgres.password
    tracking_url = postgres.create_database("mlflow_trust")  # MLflow tracking on PostgreSQL
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_url)
    bundle_dir = tmp_path / "models"
    run, mlflow = registered_champion(
        tracking_url, tiny_models, tiny_split, tiny_params, tiny_grading_record, bundle_dir
    )
    name, version = run["registered_model"], run["registered_version"]

    seen = {"card": (bundle_dir / CARD_FILE).read_text()}
    seen["run record"] = (bundle_dir / RUN_FILE).read_text()  # the card's MLflow run
    assert "leadscore:***@127.0.0.1" in seen["run record"]  # the URI is there, its password not
    seen["version tags"] = json.dumps(mlflow.get_model_version(name, version).tags)
    mlflow_run = mlflow.get_run(run["run_id"]).data
    seen["run"] = json.dumps({"params": mlflow_run.params, "tags": mlflow_run.tags})

    scoring_url = postgres.create_database("scoring_trust")
    server = start_server(
        f"models:/{name}@champion", database_url=scoring_url, journal_dir=tmp_path / "journal"
    )
    client = server.client
    answered: list[str] = []

    def score(prefix: str, n: int = 20) -> int:
        answer = client.post("/v1/score", json=leads(n, prefix), headers=AUTH)
        if answer.status_code == 200:
            answered.extend(r["lead_id"] for r in answer.json()["results"])
        seen[f"score {prefix}"] = answer.text
        return answer.status_code

    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        seen[path] = client.get(path).text
    seen["readyz with key"] = client.get("/readyz", headers=AUTH).text
    seen["model"] = client.get("/v1/model", headers=AUTH).text
    assert score("first") == 200
    seen["reload"] = client.post("/admin/reload", headers=ADMIN).text
    mlflow.delete_registered_model_alias(name, "champion")
    failed = client.post("/admin/reload", headers=ADMIN)  # names the store it could not reach
    assert failed.status_code == 409 and "leadscore:***@" in failed.text
    seen["failed reload"] = failed.text
    seen["readyz after"] = client.get("/readyz", headers=AUTH).text

    postgres.stop()  # a database outage: answers go on, rows wait in the journal
    assert score("outage") == 200
    assert wait_until(lambda: not client.get("/readyz").json()["scoring_log"]["healthy"])
    seen["readyz outage"] = client.get("/readyz", headers=AUTH).text

    pid, limit = server.process.pid, resource.RLIMIT_FSIZE
    soft, hard = resource.prlimit(pid, limit)
    resource.prlimit(pid, limit, (1, hard))  # the journal's disk is "full"
    try:
        refused = client.post("/v1/score", json=leads(5, "refused"), headers=AUTH)
    finally:
        resource.prlimit(pid, limit, (soft, hard))
    assert refused.status_code == 503 and "journal failed" in refused.json()["detail"]
    seen["refused"] = refused.text

    postgres.start()  # the database is back: the spilled rows are replayed, health recovers
    assert score("after") == 200
    assert wait_until(lambda: client.get("/readyz").json()["scoring_log"]["healthy"])
    status = client.get("/readyz").json()["scoring_log"]
    assert status["healthy"] and status["spilled"] == 20 and status["replayed"] == 20
    assert status["lost"] == 0
    metrics = client.get("/metrics").text
    assert "leadscore_scoring_log_spilled_total 20.0" in metrics
    assert "leadscore_scoring_log_replayed_total 20.0" in metrics
    assert "leadscore_scoring_log_lost_total 0.0" in metrics
    seen["metrics"] = metrics
    deadline = time.monotonic() + 30
    logged: list = []
    while time.monotonic() < deadline and len(logged) < len(answered):
        logged = postgres.query("scoring_trust", "SELECT lead_id FROM scored_leads")
        time.sleep(0.2)
    assert sorted(row[0] for row in logged) == sorted(answered)  # each answered lead once
    assert not any(row[0].startswith("refused") for row in logged)

    server.stop()
    seen["server log"] = server.log_path.read_text()
    for where, text in seen.items():
        assert password not in text, f"the password leaked in {where}"
    assert sys.executable  # the test ran against the real interpreter's server
