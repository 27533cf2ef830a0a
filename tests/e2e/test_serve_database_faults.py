"""The scoring service while its PostgreSQL database hangs or is locked: it starts, scores,
answers /healthz, reports the scoring log red, and logs every answered lead once the database
is back. A real uvicorn process and the real PostgreSQL of tests/postgres.py."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from conftest import API_KEY
from scoring_log_stores import table_ids, until

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}
BOUNDED = 5.0  # seconds any answer may take here (the database is never waited for)


def score(server, *lead_ids: str) -> dict:
    leads = [{"lead_id": lead, "channel": "webinar"} for lead in lead_ids]
    answer = server.client.post("/v1/score", json={"leads": leads}, headers=AUTH, timeout=BOUNDED)
    assert answer.status_code == 200, answer.text
    return {result["lead_id"]: result for result in answer.json()["results"]}


def health(server) -> dict:
    answer = server.client.get("/healthz", timeout=BOUNDED)
    assert answer.status_code == 200
    return answer.json()


def scoring_log(server) -> dict:
    return server.client.get("/readyz", timeout=BOUNDED).json()["scoring_log"]


def metric(server, name: str) -> float:
    for line in server.client.get("/metrics", timeout=BOUNDED).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def drained(server) -> bool:
    status = scoring_log(server)
    waiting = status.get("unshipped", status["spilled"] - status["replayed"])
    return status["healthy"] and waiting == 0


def test_the_service_starts_and_scores_while_the_database_is_frozen(
    start_server, tiny_bundle_dir, postgres, pg_database, tmp_path
):
    postgres.freeze()
    try:
        server = start_server(
            tiny_bundle_dir,
            wait=False,
            database_url=pg_database,
            journal_dir=tmp_path / "journal",
            database_timeout_seconds=1,
        )
        server.wait_ready(timeout=60)  # start-up makes no database call
        answered = score(server, "f-1", "f-2", "f-3")
        assert {r["trend"] for r in answered.values()} == {"unknown"}  # the table was not read
        assert until(lambda: health(server)["scoring_log"] == "database-not-answering", 20)
        assert not scoring_log(server)["healthy"]
        assert metric(server, "leadscore_scoring_log_unshipped_rows") == 3
        assert metric(server, "leadscore_scoring_log_oldest_unshipped_seconds") > 0
    finally:
        postgres.thaw()
    assert until(lambda: drained(server), 20)
    assert health(server)["scoring_log"] == "ok"
    assert sorted(table_ids(pg_database)) == ["f-1", "f-2", "f-3"]


def test_scoring_and_health_answer_while_the_log_table_is_locked(
    start_server, tiny_bundle_dir, postgres, pg_database, tmp_path
):
    server = start_server(
        tiny_bundle_dir,
        database_url=pg_database,
        journal_dir=tmp_path / "journal",
        database_timeout_seconds=1,
    )
    first = score(server, "l-1")["l-1"]
    assert until(lambda: drained(server), 20)
    database = sa.make_url(pg_database).database
    with psycopg.connect(postgres.dsn(database)) as holder:
        holder.execute("LOCK TABLE scored_leads IN ACCESS EXCLUSIVE MODE")
        again = score(server, "l-1", "l-2")  # a known lead and a new one, inline
        assert again["l-1"]["previous_score"] == first["score"]
        assert until(lambda: health(server)["scoring_log"] == "database-failing", 20)
        assert metric(server, "leadscore_scoring_log_unshipped_rows") == 2
        assert metric(server, "leadscore_scoring_log_dead_letter_rows") == 0
        holder.rollback()
    assert until(lambda: drained(server), 20)
    assert sorted(table_ids(pg_database)) == ["l-1", "l-1", "l-2"]
