"""Chaos run of the scoring service (not a test): is any answered lead ever lost?

Against the model `make run` trained, on loopback only, with PostgreSQL running with fsync on,
each scenario runs a bounded load (concurrency 32, unique lead ids) while something goes wrong,
probes `/healthz` every 20 ms during the fault, then counts:

  answered  leads the service answered 200 for
  logged    of those, leads found in the scoring log table afterwards
  journal   the most rows seen waiting in the journal (unshipped) during the scenario
  dead      rows set aside in the dead-letter file (a data error; 0 in every fault here)
  replayed  spilled rows written to the table since
  events    activity events answered 200 by POST /v1/events (every third request of a worker
            appends 1-3 events of its leads), and of those, found in `lead_activity` afterwards
  lost      answered leads that are not in the table, plus answered events that are not in
            theirs (must be 0)
  health    /healthz p99 during the fault (must stay under 100 ms for database faults), and
            whether the scoring log's health turned red while rows could not be shipped

Scenarios: `kill -9` of the service under load (then a restart, which replays the journal);
a database outage under load, then recovery; reloads under load with a tampered bundle
(refused) and a good one (swapped in); requests with a NUL byte in the lead id on PostgreSQL;
the database frozen (every PostgreSQL process stopped with SIGSTOP); an exclusive lock on the
log table; the database read-only (a failover: `default_transaction_read_only` and every
session ended); the service started while the database hangs; two services with two databases
and the default journal directory (one killed and restarted: no row may reach the other's
database); a SQLite write lock held 25 s.

Usage: `make chaos` or `python bench/chaos.py [--seconds 8] [--only frozen,lock]`. Figures go
to stdout and bench/results/chaos.json. PostgreSQL comes from the `pgserver` wheel (dev extra),
as in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
API_KEY, ADMIN_KEY = "chaos-key", "chaos-admin"
CONCURRENCY = 32
sys.path.insert(0, str(ROOT / "tests"))  # the PostgreSQL harness the tests use


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- the service -------------------------------------------------------------------------


class Service:
    """`leadscore serve` on a loopback port, logging to `database_url`; its own journal, or
    (`own_journal=False`) the default one, under `scratch/state` as its state directory."""

    def __init__(
        self,
        model_dir: Path,
        database_url: str,
        scratch: Path,
        name: str,
        own_journal: bool = True,
    ) -> None:
        self.port = free_port()
        self.log = (scratch / f"{name}.log").open("a")
        env = {
            **os.environ,
            "LEADSCORE_MODEL_URI": str(model_dir),
            "LEADSCORE_DATABASE_URL": database_url,
            "LEADSCORE_API_KEYS": API_KEY,
            "LEADSCORE_ADMIN_KEY": ADMIN_KEY,
            "LEADSCORE_DATABASE_TIMEOUT_SECONDS": "2",
            "XDG_STATE_HOME": str(scratch / "state"),
        }
        if own_journal:
            env["LEADSCORE_JOURNAL_DIR"] = str(scratch / f"{name}.journal")
        self.env = env
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "leadscore"), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def restart(self) -> None:
        self.process = self._start()

    def get(self, path: str, timeout: float = 5) -> dict:
        import httpx

        answer = httpx.get(
            f"http://{HOST}:{self.port}{path}", headers={"X-API-Key": API_KEY}, timeout=timeout
        )
        return answer.json()

    def post_admin(self, path: str) -> tuple[int, dict]:
        import httpx

        answer = httpx.post(
            f"http://{HOST}:{self.port}{path}", headers={"X-Admin-Key": ADMIN_KEY}, timeout=120
        )
        return answer.status_code, answer.json()

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the service exited ({self.process.returncode}); see its log")
            try:
                if self.get("/readyz", timeout=2).get("ready"):
                    return
            except Exception:  # not listening yet
                pass
            time.sleep(0.2)
        raise SystemExit("the service did not get ready")

    def scoring_log(self) -> dict:
        return self.get("/readyz")["scoring_log"]

    def wait_drained(self, timeout: float = 90) -> dict:
        """Until the log is healthy and nothing waits in the journal."""
        deadline = time.monotonic() + timeout
        status = self.scoring_log()
        while time.monotonic() < deadline:
            status = self.scoring_log()
            if status["healthy"] and status["unshipped"] == 0:
                break
            time.sleep(0.2)
        return status

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


# --- the health probe ---------------------------------------------------------------------


class HealthProbe:
    """GET /healthz every 20 ms (latency while `measuring`; a timeout counts as 2 s), and
    /readyz every 0.5 s (the most rows seen waiting in the journal). In a thread."""

    TIMEOUT = 2.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.states: set[str] = set()
        self.peak_journal = 0
        self.measuring = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import http.client

        connection = None
        last_ready = 0.0
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, self.port, timeout=self.TIMEOUT)
                connection.request("GET", "/healthz")
                body = json.loads(connection.getresponse().read())
                if self.measuring:
                    self.latencies.append(time.perf_counter() - started)
                    self.states.add(body.get("scoring_log", "?"))
                if time.monotonic() - last_ready > 0.5:
                    last_ready = time.monotonic()
                    connection.request("GET", "/readyz")
                    status = json.loads(connection.getresponse().read())["scoring_log"] or {}
                    self.peak_journal = max(self.peak_journal, status.get("unshipped", 0))
            except (OSError, ValueError, http.client.HTTPException):
                if self.measuring and time.perf_counter() - started >= self.TIMEOUT * 0.9:
                    self.latencies.append(self.TIMEOUT)
                if connection is not None:
                    connection.close()
                connection = None
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def p99_ms(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def red(self) -> bool:
        return bool(self.states - {"ok", "connecting"})


# --- the load ----------------------------------------------------------------------------


@dataclass
class Load:
    answered: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connections refused or cut (e.g. the killed process)
    requests: int = 0
    events_answered: set[str] = field(default_factory=set)  # event ids answered 200 (committed)
    events_stored: int = 0  # of those, found in `lead_activity` afterwards


def request_bytes(port: int, leads: list[dict], path: str = "/v1/score") -> bytes:
    payload = {"leads": leads, "reasons": False} if path == "/v1/score" else {"events": leads}
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


EVENTS_EVERY = 3  # every third request of a worker appends activity events (POST /v1/events)


def activity_events(tag: str, i: int) -> list[dict]:
    """Unique activity events of the leads this worker scores (1 to 3 per request)."""
    return [
        {
            "event_id": f"{tag}-{i}-e{k}",
            "lead_id": f"{tag}-{i}-{k}",
            "occurred_at": "2026-06-01T10:00:00Z",
            "event_type": "web_page",
        }
        for k in range(1 + i % 3)
    ]


async def exchange(reader, writer, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def worker(port, tag, deadline, max_requests, load: Load, stop: threading.Event) -> None:
    reader = writer = None
    i = 0
    while time.monotonic() < deadline and load.requests < max_requests and not stop.is_set():
        leads = [{"lead_id": f"{tag}-{i}-{k}", "channel": "webinar"} for k in range(1 + i % 3)]
        events = activity_events(tag, i) if i % EVENTS_EVERY == 0 else None
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            load.requests += 1
            if events is not None:  # answered 200 only once committed
                status, _ = await exchange(
                    reader, writer, request_bytes(port, events, "/v1/events")
                )
                if status == 200:
                    load.events_answered.update(event["event_id"] for event in events)
            status, body = await exchange(reader, writer, request_bytes(port, leads))
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            load.errors += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        load.statuses[status] = load.statuses.get(status, 0) + 1
        if status == 200:
            load.answered.update(r["lead_id"] for r in json.loads(body)["results"])
    if writer is not None:
        writer.close()


def run_load(port: int, name: str, seconds: float, stop: threading.Event | None = None) -> Load:
    load = Load()
    stop = stop or threading.Event()

    async def main():
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(worker(port, f"{name}-{w}", deadline, 40_000, load, stop) for w in range(CONCURRENCY))
        )

    asyncio.run(main())
    return load


def in_background(target, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(target(*args)), daemon=True)
    thread.start()
    return thread, out


def logged_ids(postgres, database: str) -> set[str]:
    """Lead ids in the table (`database`: a PostgreSQL database, or a SQLite file's path)."""
    if database.endswith(".db"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database)) as connection:
            return {row[0] for row in connection.execute("SELECT lead_id FROM scored_leads")}
    return {row[0] for row in postgres.query(database, "SELECT lead_id FROM scored_leads")}


def stored_event_ids(postgres, database: str) -> set[str]:
    """Event ids in `lead_activity` (none when the table was never created)."""
    query = "SELECT event_id FROM lead_activity"
    try:
        if database.endswith(".db"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(database)) as connection:
                return {row[0] for row in connection.execute(query)}
        return {row[0] for row in postgres.query(database, query)}
    except Exception as error:  # no such table: no event was stored
        if "lead_activity" not in str(error):
            raise
        return set()


def events_check(postgres, database: str, load: Load) -> None:
    """How many of the events answered 200 are in the table (all must be: lost = 0)."""
    load.events_stored = len(load.events_answered & stored_event_ids(postgres, database))


def wait_logged(postgres, database: str, answered: set[str], timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    found = logged_ids(postgres, database)
    while time.monotonic() < deadline and not answered <= found:
        time.sleep(0.3)
        found = logged_ids(postgres, database)
    return found


def figures(
    load: Load, found: set[str], status: dict, note: str, probe: HealthProbe | None = None
) -> dict:
    logged = len(load.answered & found)
    events_lost = len(load.events_answered) - load.events_stored
    return {
        "answered": len(load.answered),
        "logged": logged,
        "events_answered": len(load.events_answered),
        "events_stored": load.events_stored,
        "events_lost": events_lost,
        "journal": max(status["spilled"], probe.peak_journal if probe else 0),
        "dead_lettered": status.get("dead_letters", status.get("rejected", 0)),
        "spilled": status["spilled"],
        "replayed": status["replayed"],
        "lost": len(load.answered) - logged + events_lost,  # scores and events
        "health_p99_ms": probe.p99_ms() if probe else None,
        "health_red": probe.red() if probe else None,
        "requests": load.requests,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "connection_errors": load.errors,
        "note": note,
    }


# --- the scenarios -----------------------------------------------------------------------


def kill_nine(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    url = postgres.create_database("chaos_kill")
    service = Service(model_dir, url, scratch, "kill")
    service.wait_ready()
    stop = threading.Event()
    thread, out = in_background(run_load, service.port, "kill", seconds, stop)
    time.sleep(seconds / 2)
    service.process.send_signal(signal.SIGKILL)  # mid-load, rows in flight
    service.process.wait()
    stop.set()
    thread.join()
    load = out[0]
    service.restart()  # the next process adopts the dead one's journal and replays it
    service.wait_ready()
    status = service.wait_drained()
    found = wait_logged(postgres, "chaos_kill", load.answered)
    events_check(postgres, "chaos_kill", load)
    service.stop()
    return figures(load, found, status, "kill -9 at half time, restart replays the journal")


def outage(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    url = postgres.create_database("chaos_outage")
    service = Service(model_dir, url, scratch, "outage")
    service.wait_ready()
    thread, out = in_background(run_load, service.port, "outage", seconds)
    probe = HealthProbe(service.port)
    time.sleep(seconds / 4)
    postgres.stop()  # the database goes away under load ...
    probe.measuring = True
    time.sleep(seconds / 3)
    unhealthy = not service.scoring_log()["healthy"]
    probe.measuring = False
    postgres.start()  # ... and comes back
    thread.join()
    load = out[0]
    status = service.wait_drained()
    probe.stop()
    found = wait_logged(postgres, "chaos_outage", load.answered)
    events_check(postgres, "chaos_outage", load)
    service.stop()
    note = f"database down {seconds / 3:.1f} s; health false during it: {unhealthy}, "
    return figures(load, found, status, note + f"true after: {status['healthy']}", probe)


def reloads(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    import hashlib

    import joblib

    from leadscore.model.bundle import CARD_FILE, GRADING_FILE, MODEL_FILE, seal_bundle

    bundle = Path(shutil.copytree(model_dir, scratch / "reload-models"))
    url = postgres.create_database("chaos_reload")
    service = Service(bundle, url, scratch, "reload")
    service.wait_ready()
    thread, out = in_background(run_load, service.port, "reload", seconds)
    time.sleep(seconds / 4)
    good = (bundle / MODEL_FILE).read_bytes()
    marker = scratch / "pwned"
    joblib.dump(Payload(marker), bundle / MODEL_FILE)  # a malicious pickle ...
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest[MODEL_FILE] = hashlib.sha256((bundle / MODEL_FILE).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tampered, _ = service.post_admin("/admin/reload")  # ... with a recomputed manifest
    (bundle / MODEL_FILE).write_bytes(good)  # a good bundle, a new version, sealed
    card = json.loads((bundle / CARD_FILE).read_text())
    grading = json.loads((bundle / GRADING_FILE).read_text())
    card["model_version"] = grading["model_version"] = card["model_version"] + "-reloaded"
    (bundle / CARD_FILE).write_text(json.dumps(card))
    seal_bundle(bundle, grading)
    time.sleep(seconds / 4)
    swapped, answer = service.post_admin("/admin/reload")
    thread.join()
    load = out[0]
    status = service.wait_drained()
    found = wait_logged(postgres, "chaos_reload", load.answered)
    events_check(postgres, "chaos_reload", load)
    service.stop()
    note = (
        f"tampered reload -> {tampered}, payload ran: {marker.exists()}; good reload -> "
        f"{swapped} ({answer.get('serving')})"
    )
    return figures(load, found, status, note)


class Payload:
    """Runs code when unpickled (creates `marker`): what a tampered bundle would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def nul_bytes(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    import httpx

    url = postgres.create_database("chaos_nul")
    service = Service(model_dir, url, scratch, "nul")
    service.wait_ready()
    thread, out = in_background(run_load, service.port, "nul", seconds)
    time.sleep(seconds / 4)
    codes = []
    for i in range(3):
        answer = httpx.post(
            f"http://{HOST}:{service.port}/v1/score",
            json={"leads": [{"lead_id": f"evil\x00{i}"}, {"lead_id": f"nul-fine-{i}"}]},
            headers={"X-API-Key": API_KEY},
            timeout=30,
        )
        codes.append(answer.status_code)
    thread.join()
    load = out[0]
    status = service.wait_drained()
    found = wait_logged(postgres, "chaos_nul", load.answered)
    events_check(postgres, "chaos_nul", load)
    service.stop()
    note = f"3 NUL-byte requests -> {codes}; log healthy after: {status['healthy']}"
    return figures(load, found, status, note)


def database_fault(
    postgres,
    model_dir: Path,
    scratch: Path,
    name: str,
    fault: tuple,
    fault_seconds: float,
    database: str | None = None,
) -> dict:
    """Load the service, hold `fault` (begin, end) for `fault_seconds` mid-load with /healthz
    probed, then let it drain and count. `database`: a SQLite file (else a new PostgreSQL
    database named after the scenario)."""
    url = f"sqlite:///{database}" if database else postgres.create_database(f"chaos_{name}")
    service = Service(model_dir, url, scratch, name)
    service.wait_ready()
    thread, out = in_background(run_load, service.port, name, fault_seconds + 3)
    probe = HealthProbe(service.port)
    time.sleep(1.5)
    begin, end = fault
    begin()
    probe.measuring = True
    try:
        time.sleep(fault_seconds)
    finally:
        probe.measuring = False
        end()
    thread.join()
    load = out[0]
    status = service.wait_drained()
    probe.stop()
    found = wait_logged(postgres, database or f"chaos_{name}", load.answered)
    events_check(postgres, database or f"chaos_{name}", load)
    service.stop()
    states = ", ".join(sorted(probe.states))
    note = f"{fault_seconds:.0f} s; health during it: {states}; after: {status['state']}"
    return figures(load, found, status, note, probe)


def frozen(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """Every PostgreSQL process stopped (SIGSTOP) under load, then continued."""
    return database_fault(
        postgres, model_dir, scratch, "frozen", (postgres.freeze, postgres.thaw), 10
    )


def table_lock(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """`LOCK TABLE scored_leads IN ACCESS EXCLUSIVE MODE` held by another session."""
    import psycopg

    held: list = []

    def begin() -> None:
        connection = psycopg.connect(postgres.dsn("chaos_lock"))
        connection.execute("LOCK TABLE scored_leads IN ACCESS EXCLUSIVE MODE")
        held.append(connection)

    def end() -> None:
        held[0].rollback()
        held[0].close()

    return database_fault(postgres, model_dir, scratch, "lock", (begin, end), 10)


def read_only(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """A failover: the database turns read-only and every session ends; 8 s later it takes
    writes again (new sessions only: the service must reconnect by itself)."""
    import psycopg

    def alter(sql: str, end_sessions: bool) -> None:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql)
            if end_sessions:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = 'chaos_readonly'"
                )

    begin = lambda: alter(  # noqa: E731
        "ALTER DATABASE chaos_readonly SET default_transaction_read_only = on", True
    )
    end = lambda: alter(  # noqa: E731
        "ALTER DATABASE chaos_readonly RESET default_transaction_read_only", False
    )
    return database_fault(postgres, model_dir, scratch, "readonly", (begin, end), 8)


def sqlite_lock(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """Another process holds SQLite's write lock (`BEGIN IMMEDIATE`) for 25 s."""
    import sqlite3

    database = scratch / "sqlite_lock.db"
    held: list = []

    def begin() -> None:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        held.append(connection)

    def end() -> None:
        held[0].execute("COMMIT")
        held[0].close()

    return database_fault(
        postgres, model_dir, scratch, "sqlitelock", (begin, end), 25, str(database)
    )


def start_hanging(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """The service started while every PostgreSQL process is stopped; load; then continued."""
    postgres.create_database("chaos_start")
    started = time.monotonic()  # for comparison: the same start with the database answering
    normal = Service(model_dir, postgres.create_database("chaos_start_ok"), scratch, "start-ok")
    normal.wait_ready()
    normal_ready = time.monotonic() - started
    normal.stop()
    postgres.freeze()
    try:
        started = time.monotonic()
        service = Service(model_dir, postgres.url("chaos_start"), scratch, "start")
        service.wait_ready(timeout=120)
        ready_after = time.monotonic() - started
        probe = HealthProbe(service.port)
        probe.measuring = True
        load = run_load(service.port, "start", seconds)
        probe.measuring = False
    finally:
        postgres.thaw()
    status = service.wait_drained()
    probe.stop()
    found = wait_logged(postgres, "chaos_start", load.answered)
    events_check(postgres, "chaos_start", load)
    service.stop()
    note = (
        f"ready {ready_after:.1f} s after the start with the database frozen ({normal_ready:.1f} "
        f"s with it answering); health during it: "
        f"{', '.join(sorted(probe.states))}; after: {status['state']}"
    )
    return figures(load, found, status, note, probe)


def two_databases(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    """Services A and B with their own databases and the default journal directory, from the
    same working directory; A killed with -9 under load, B restarted, then A restarted."""
    services = {}
    for name in ("a", "b"):
        url = postgres.create_database(f"chaos_two_{name}")
        services[name] = Service(model_dir, url, scratch, f"two-{name}", own_journal=False)
    for service in services.values():
        service.wait_ready()
    loads = {n: in_background(run_load, s.port, f"two-{n}", seconds) for n, s in services.items()}
    time.sleep(seconds / 2)
    services["a"].process.send_signal(signal.SIGKILL)
    services["a"].process.wait()
    for thread, _ in loads.values():
        thread.join()
    answered = {name: out[0] for name, (_, out) in loads.items()}
    services["b"].stop()
    services["b"].log = (scratch / "two-b.log").open("a")
    services["b"].restart()  # a restart adopts what it finds in its journal directory
    services["b"].wait_ready()
    services["a"].restart()
    services["a"].wait_ready()
    statuses = {name: service.wait_drained() for name, service in services.items()}
    found = {n: wait_logged(postgres, f"chaos_two_{n}", answered[n].answered) for n in services}
    for n in services:
        events_check(postgres, f"chaos_two_{n}", answered[n])
    for service in services.values():
        service.stop()
    misplaced = len(answered["a"].answered & found["b"]) + len(answered["b"].answered & found["a"])
    load = Load(
        answered=answered["a"].answered | answered["b"].answered,
        statuses={
            k: answered["a"].statuses.get(k, 0) + answered["b"].statuses.get(k, 0)
            for k in answered["a"].statuses.keys() | answered["b"].statuses.keys()
        },
        errors=answered["a"].errors + answered["b"].errors,
        requests=answered["a"].requests + answered["b"].requests,
        events_answered=answered["a"].events_answered | answered["b"].events_answered,
        events_stored=answered["a"].events_stored + answered["b"].events_stored,
    )
    own = (answered["a"].answered & found["a"]) | (answered["b"].answered & found["b"])
    status = {
        "spilled": statuses["a"]["spilled"] + statuses["b"]["spilled"],
        "replayed": statuses["a"]["replayed"] + statuses["b"]["replayed"],
        "dead_letters": statuses["a"]["dead_letters"] + statuses["b"]["dead_letters"],
    }
    note = (
        f"A killed at half time; rows in the other service's database: {misplaced}; journals "
        f"{sorted(p.name for p in (scratch / 'state' / 'leadscore' / 'journals').iterdir())}"
    )
    row = figures(load, own, status, note)
    row["misplaced"] = misplaced
    row["lost"] += misplaced
    return row


SCENARIOS = {
    "kill -9 under load": kill_nine,
    "database outage, recovery": outage,
    "reloads: tampered, good": reloads,
    "NUL byte on PostgreSQL": nul_bytes,
    "database frozen 10 s": frozen,
    "table lock 10 s": table_lock,
    "read-only (failover) 8 s": read_only,
    "start, database hanging": start_hanging,
    "two services, two DBs": two_databases,
    "SQLite write lock 25 s": sqlite_lock,
}


def print_table(results: dict) -> None:
    print(f"\n{'scenario':27s} {'answered':>8s} {'logged':>8s} {'journal':>7s} {'dead':>4s} "
          f"{'replayed':>8s} {'events':>13s} {'lost':>4s} {'health p99':>10s} {'red':>4s}  "
          "statuses / note")  # fmt: skip
    for name, row in results.items():
        if not isinstance(row, dict):
            continue
        p99 = row.get("health_p99_ms")
        red = row.get("health_red")
        print(f"{name:27s} {row['answered']:8,d} {row['logged']:8,d} {row['journal']:7,d} "
              f"{row['dead_lettered']:4d} {row['replayed']:8,d} "
              f"{row['events_stored']:>6,d}/{row['events_answered']:<6,d} {row['lost']:4d} "
              f"{'-' if p99 is None else f'{p99:.1f} ms':>10s} "
              f"{'-' if red is None else ('yes' if red else 'no'):>4s}  {row['statuses']} "
              f"(+{row['connection_errors']} cut); {row['note']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="load per scenario (<= 30)")
    parser.add_argument("--only", default="", help="comma-separated words of scenario names")
    args = parser.parse_args()
    seconds = min(args.seconds, 30.0)
    model_dir = ROOT / "models"
    if not (model_dir / "manifest.sig").is_file():
        raise SystemExit("no sealed model: run `make run` first")
    from postgres import PostgresServer

    wanted = [word.strip() for word in args.only.split(",") if word.strip()]
    chosen = {n: f for n, f in SCENARIOS.items() if not wanted or any(w in n for w in wanted)}
    scratch = Path(tempfile.mkdtemp(prefix="leadscore-chaos-"))
    postgres = PostgresServer(fsync=True).start()
    results: dict = {"concurrency": CONCURRENCY, "seconds": seconds, "postgres_fsync": True}
    try:
        for name, scenario in chosen.items():
            print(f"{name} ...", flush=True)
            results[name] = scenario(postgres, model_dir, scratch, seconds)
    finally:
        postgres.remove()
    print_table(results)
    rows = [row for row in results.values() if isinstance(row, dict)]
    lost = sum(row["lost"] for row in rows)
    slow = [
        n for n, r in results.items() if isinstance(r, dict) and (r["health_p99_ms"] or 0) >= 100
    ]
    out = ROOT / "bench" / "results" / "chaos.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nlost in total: {lost} (must be 0); /healthz p99 >= 100 ms in: "
          f"{', '.join(slow) or 'none'}; written to {out.relative_to(ROOT)}")  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)
    if lost or slow:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
