"""Secrets (issue 26): a database password holding `/ # ' ? :` (in the URL's credentials or
as `?password=`) is found in no model card, MLflow run, answer, server log or CLI output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ADMIN_KEY, API_KEY
from stages import registered_champion

from leadscore.model.bundle import CARD_FILE, RUN_FILE

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}
ADMIN = {"X-Admin-Key": ADMIN_KEY}
# every kind of character a regex for URL credentials used to stop at
PASSWORD = "Fj4kQx/Wm8Yq#Tz5Ra'Lp3Nv?Vb7Hc:Qd2Ks"
PIECES = ["Fj4kQx", "Wm8Yq", "Tz5Ra", "Lp3Nv", "Vb7Hc", "Qd2Ks"]


@pytest.fixture(scope="module")
def hostile_postgres():
    from postgres import PostgresServer

    server = PostgresServer(password=PASSWORD)
    try:
        yield server.start()
    finally:
        server.remove()


def leaked(text: str) -> list[str]:
    """The pieces of the password found in `text` (none, when nothing leaked)."""
    return [piece for piece in [PASSWORD, *PIECES] if piece in text]


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def leadscore(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "leadscore"), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})


def test_a_hostile_password_is_found_nowhere(
    hostile_postgres, monkeypatch, tmp_path, start_server, tiny_models, tiny_split, tiny_params,
    tiny_grading_record,
):  # fmt: skip
    postgres = hostile_postgres
    monkeypatch.chdir(tmp_path)
    tracking_url = postgres.create_database("mlflow_secrets")  # the password in the credentials
    assert PASSWORD in tracking_url
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_url)
    bundle_dir = tmp_path / "models"
    run, mlflow = registered_champion(
        tracking_url, tiny_models, tiny_split, tiny_params, tiny_grading_record, bundle_dir
    )
    name, version = run["registered_model"], run["registered_version"]

    seen = {"card": (bundle_dir / CARD_FILE).read_text()}
    seen["run record"] = (bundle_dir / RUN_FILE).read_text()  # the card's MLflow run
    assert f"leadscore:***@127.0.0.1:{postgres.port}/mlflow_secrets" in seen["run record"]
    mlflow_run = mlflow.get_run(run["run_id"]).data
    seen["run"] = json.dumps({"params": mlflow_run.params, "tags": mlflow_run.tags})
    seen["version tags"] = json.dumps(mlflow.get_model_version(name, version).tags)

    postgres.create_database("scoring_secrets")  # the password as a query parameter
    scoring_url = (
        f"postgresql+psycopg://leadscore@127.0.0.1:{postgres.port}/scoring_secrets"
        f"?connect_timeout=3&password={PASSWORD}"
    )
    journal = tmp_path / "journal"
    server = start_server(f"models:/{name}@champion", database_url=scoring_url, journal_dir=journal)
    client = server.client
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        seen[path] = client.get(path).text
    seen["readyz with key"] = client.get("/readyz", headers=AUTH).text
    seen["model"] = client.get("/v1/model", headers=AUTH).text
    assert f"127.0.0.1:{postgres.port}/mlflow_secrets" in seen["model"]  # shown, no password
    one = {"leads": [{"lead_id": "s-1", "channel": "webinar"}]}
    seen["score"] = client.post("/v1/score", json=one, headers=AUTH).text
    mlflow.delete_registered_model_alias(name, "champion")
    failed = client.post("/admin/reload", headers=ADMIN)  # names the store it could not reach
    assert failed.status_code == 409
    seen["failed reload"] = failed.text

    postgres.stop()  # a database outage: the service logs what it cannot reach
    seen["score in outage"] = client.post("/v1/score", json=one, headers=AUTH).text
    assert wait_until(lambda: not client.get("/readyz").json()["scoring_log"]["healthy"])
    seen["readyz in outage"] = client.get("/readyz", headers=AUTH).text
    server.stop()
    seen["server log"] = server.log_path.read_text()

    env = {"LEADSCORE_DATABASE_URL": scoring_url, "LEADSCORE_JOURNAL_DIR": str(journal)}
    down = leadscore("scoring-log", "replay", "--timeout", "2", env=env)
    seen["replay, database down"] = down.stdout + down.stderr
    postgres.start()
    up = leadscore("scoring-log", "replay", env=env)
    seen["replay"] = up.stdout + up.stderr
    assert up.returncode == 0, seen["replay"]
    assert "password=***" in seen["replay"]  # the URL is shown, its password masked

    for where, text in seen.items():
        assert not leaked(text), f"the password leaked in {where}: {leaked(text)}"
