"""Outcomes are as durable as scores (issue 26): through a real service on real SQLite and real
PostgreSQL, an event answered 200 is committed; a database stopped, frozen, locked or read-only
gets a 503 with Retry-After (never a 500, never a hang) and the retry stores the events once; an
event id sent again with another payload gets a 409 naming it; events against what is stored
about their lead (before its creation) get a 422; contradictory outcomes and leads never scored
are kept and named in the answer, and counted in the monthly feedback."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import API_KEY, OUTCOME_KEY, PROJECT_ROOT, Server
from test_serve import as_request_leads

from leadscore.model.bundle import load_bundle
from leadscore.scoring.outcomes import read_events

pytestmark = pytest.mark.server
CRM = {"X-Outcome-Key": OUTCOME_KEY}
WAIT = 20.0  # seconds a client waits before it calls the service hung


def event(event_id: str, lead_id: str, kind: str, occurred_at: str, **more) -> dict:
    return {"event_id": event_id, "lead_id": lead_id, "kind": kind, "occurred_at": occurred_at,
            **more}  # fmt: skip


WON = event("w1", "L-1", "won", "2026-07-01T09:00Z", value=12000)
LOST = event("l1", "L-1", "lost", "2026-07-02T09:00Z", reason="no budget")


@dataclass
class Database:
    """A scoring-log database of one backend (SQLite file or PostgreSQL database)."""

    backend: str
    url: str
    path: Path | None = None  # the SQLite file


def postgres_processes(server) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, ...)."""
    root = server.process.pid
    found = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == root:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def frozen(server) -> Iterator[None]:
    """PostgreSQL's processes stopped (SIGSTOP): connections open, nothing answers."""
    processes = postgres_processes(server)
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process's write transaction holds the SQLite file."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "scoring_log.db"
        yield Database("sqlite", f"sqlite:///{path}", path)
        return
    server = request.getfixturevalue("postgres")
    yield Database("postgres", request.getfixturevalue("pg_database"))
    if not server.ready():  # a failed test must not leave the session's server down
        server.start()


@pytest.fixture()
def crm(start_server, tiny_bundle_dir, tiny_split, database) -> Server:
    """A service on `database` that has scored L-1, L-2 and L-3."""
    server = start_server(tiny_bundle_dir, outcome_keys=OUTCOME_KEY, database_url=database.url)
    spec = load_bundle(tiny_bundle_dir).card.spec
    leads = as_request_leads(tiny_split.test.head(3), spec.fields)
    for lead, name in zip(leads, ("L-1", "L-2", "L-3"), strict=True):
        lead["lead_id"] = name
    answer = server.client.post("/v1/score", json={"leads": leads}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200
    return server


def post(server: Server, *events: dict) -> httpx.Response:
    return server.client.post("/v1/outcomes", json={"events": list(events)}, headers=CRM,
                              timeout=WAIT)  # fmt: skip


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    body = answer.json()
    assert body["type"] == "urn:leadscore:problem:outcomes-unavailable"
    assert "send them again" in body["detail"] and "Traceback" not in answer.text


def assert_kept_once(server: Server, database: Database, *events: dict) -> None:
    """Sent again once the database is back: each event stored exactly once."""
    again = post(server, *events)
    assert again.status_code == 200, again.text
    assert again.json()["stored"] + again.json()["duplicates"] == len(events)
    stored = read_events(database.url)
    assert sorted(stored["event_id"]) == sorted(e["event_id"] for e in events)


def test_a_stopped_database_gets_503_and_the_retry_stores_once(crm, database, postgres):
    if database.backend == "sqlite":  # SQLite has no server to stop: a locked file instead
        with locked(database.path):
            assert_unavailable(post(crm, WON))
    else:
        postgres.stop()
        try:
            assert_unavailable(post(crm, WON))
            assert_unavailable(post(crm, WON))  # again: no writer is left waiting
        finally:
            postgres.start()
    assert crm.client.get("/healthz").status_code == 200
    assert_kept_once(crm, database, WON)


def test_a_frozen_database_gets_503_in_bounded_time(crm, database, postgres):
    """A database that accepts connections but never answers: 503 well before the client gives
    up (the request does not hang), and the events are kept once after it thaws."""
    assert post(crm, LOST).status_code == 200  # an open pooled connection, then the freeze
    if database.backend == "sqlite":
        with locked(database.path):
            answers = [post(crm, WON) for _ in range(6)]  # more than the writers
    else:
        with frozen(postgres):
            answers = [post(crm, WON) for _ in range(6)]
    for answer in answers:
        assert_unavailable(answer)
    assert_kept_once(crm, database, LOST, WON)


@contextlib.contextmanager
def read_only(server) -> Iterator[None]:
    """The whole PostgreSQL server refuses writes, open sessions included (as after a failover
    to a standby)."""

    def configure(setting: str, expected: str) -> None:
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as connection:
            connection.execute("SET default_transaction_read_only = off")
            connection.execute(f"ALTER SYSTEM {setting}")
            connection.execute("SELECT pg_reload_conf()")
        # once a new session sees it, the postmaster has reloaded and told every session
        for _ in range(400):
            if server.query("postgres", "SHOW default_transaction_read_only") == [(expected,)]:
                return
            time.sleep(0.05)
        raise AssertionError(f"PostgreSQL did not apply {setting}")

    configure("SET default_transaction_read_only = on", "on")
    try:
        yield
    finally:
        configure("RESET default_transaction_read_only", "off")


def test_a_read_only_database_gets_503(start_server, tiny_bundle_dir, postgres, pg_database):
    server = start_server(tiny_bundle_dir, outcome_keys=OUTCOME_KEY, database_url=pg_database)
    database = Database("postgres", pg_database)
    assert post(server, LOST).status_code == 200  # an open session, then the failover
    with read_only(postgres):
        assert_unavailable(post(server, WON))
    assert_kept_once(server, database, LOST, WON)


def test_same_event_id_with_another_payload_is_a_conflict(crm, database):
    assert post(crm, WON).json()["stored"] == 1
    assert post(crm, WON).json() == {"received": 1, "stored": 0, "duplicates": 1,
                                     "never_scored": [], "contradictory": []}  # fmt: skip
    changed = {**WON, "value": 99000}
    conflict = post(crm, changed, event("t9", "L-2", "touch", "2026-07-03T10:00"))
    assert conflict.status_code == 409, conflict.text
    body = conflict.json()
    assert body["event_ids"] == ["w1"] and "w1" in body["detail"]
    assert body["type"] == "urn:leadscore:problem:outcome-conflict"
    twice = post(crm, event("t8", "L-2", "touch", "2026-07-03T10:00"),
                 event("t8", "L-2", "touch", "2026-07-04T10:00"))  # fmt: skip
    assert twice.status_code == 409 and twice.json()["event_ids"] == ["t8"]
    stored = read_events(database.url).set_index("event_id")
    assert list(stored.index) == ["w1"] and stored.loc["w1", "value"] == 12000  # nothing else


def test_an_event_before_its_leads_known_creation_is_refused(crm, database):
    created = event("c1", "L-2", "first_contact", "2026-06-02T10:00",
                    lead_created_at="2026-06-01T08:00")  # fmt: skip
    assert post(crm, created).status_code == 200
    early = post(crm, event("c2", "L-2", "touch", "2026-05-30T10:00"))
    assert early.status_code == 422
    (error,) = early.json()["errors"]
    assert error["field"] == "events[0].occurred_at"
    assert "before the lead's creation (2026-06-01T08:00:00" in error["message"]
    assert list(read_events(database.url)["event_id"]) == ["c1"]


def test_contradictions_and_unscored_leads_are_kept_named_and_counted(crm, database, tmp_path):
    first = post(crm, event("f1", "L-1", "first_contact", "2026-06-01T10:00",
                            lead_created_at="2026-06-01T08:00"), WON)  # fmt: skip
    assert first.json()["contradictory"] == [] and first.json()["never_scored"] == []
    answer = post(crm, LOST, event("x1", "L-404", "touch", "2026-06-05T10:00"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 2, "stored": 2, "duplicates": 0,
                             "never_scored": ["L-404"], "contradictory": ["L-1"]}  # fmt: skip
    two_wins = post(crm, event("w2", "L-2", "won", "2026-07-01T09:00Z", value=100),
                    event("w3", "L-2", "won", "2026-07-05T09:00Z", value=250))  # fmt: skip
    assert two_wins.json()["contradictory"] == ["L-2"]
    clear = post(crm, event("w4", "L-3", "won", "2026-07-01T09:00Z", value=500,
                            lead_created_at="2026-06-10T08:00"))  # fmt: skip
    assert clear.json()["contradictory"] == []
    assert len(read_events(database.url)) == 7  # every event kept
    crm.stop()  # the scoring log is shipped into its table

    from leadscore.stages.feedback import main as feedback

    for name in ("params.yaml", "contract.yaml"):
        (tmp_path / name).write_text((PROJECT_ROOT / name).read_text())
    report = feedback(params_path=tmp_path / "params.yaml", scoring_log=database.url,
                      reports_dir=tmp_path, as_of="2027-06-01")  # fmt: skip
    assert report["outcomes"] == {
        "leads_never_scored": 1,
        "never_scored_examples": ["L-404"],
        "leads_with_contradictory_outcomes": 2,
        "contradictory_examples": ["L-1", "L-2"],
    }
    (month,) = report["months"]  # L-3 only: the others' outcomes are not known
    assert month["month"] == "2026-06" and month["leads"] == 1 and month["conversion"] == 1.0
    assert report["scored_leads_without_outcome"] == 0
    markdown = (tmp_path / "feedback.md").read_text()
    assert "2 lead(s) with contradictory outcomes" in markdown and "L-404" in markdown
