"""Chaos run of the scoring service (not a test): is any answered lead ever lost?

Against the model `make run` trained, on loopback only, each scenario runs a bounded load
(concurrency 32, a few seconds, unique lead ids) while something goes wrong, then counts:

  answered  leads the service answered 200 for
  logged    of those, leads found in the scoring log table (PostgreSQL) afterwards
  spilled   rows the service kept in its journal while the database could not take them
  replayed  spilled rows written to the table since
  lost      answered leads that are not in the table (must be 0)

Scenarios: `kill -9` of the service under load (then a restart, which replays the journal);
a database outage under load, then recovery; reloads under load with a tampered bundle
(refused) and a good one (swapped in); requests with a NUL byte in the lead id on PostgreSQL.

Usage: `make chaos` or `python bench/chaos.py [--seconds 8]`. Figures go to stdout and
bench/results/chaos.json. PostgreSQL comes from the `pgserver` wheel (dev extra), as in tests.
"""

from __future__ import annotations

import argparse
import asyncio
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
    """`leadscore serve` on a loopback port with its own journal, logging to PostgreSQL."""

    def __init__(self, model_dir: Path, database_url: str, scratch: Path, name: str) -> None:
        self.port = free_port()
        self.log = (scratch / f"{name}.log").open("a")
        env = {
            **os.environ,
            "LEADSCORE_MODEL_URI": str(model_dir),
            "LEADSCORE_DATABASE_URL": database_url,
            "LEADSCORE_JOURNAL_DIR": str(scratch / f"{name}.journal"),
            "LEADSCORE_API_KEYS": API_KEY,
            "LEADSCORE_ADMIN_KEY": ADMIN_KEY,
        }
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

    def wait_drained(self, timeout: float = 60) -> dict:
        """Until the log is healthy and everything spilled is replayed."""
        deadline = time.monotonic() + timeout
        status = self.scoring_log()
        while time.monotonic() < deadline:
            status = self.scoring_log()
            if status["healthy"] and status["spilled"] == status["replayed"]:
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


# --- the load ----------------------------------------------------------------------------


@dataclass
class Load:
    answered: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connections refused or cut (e.g. the killed process)
    requests: int = 0


def request_bytes(port: int, leads: list[dict]) -> bytes:
    body = json.dumps({"leads": leads, "reasons": False}).encode()
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


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
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            load.requests += 1
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
    return {row[0] for row in postgres.query(database, "SELECT lead_id FROM scored_leads")}


def wait_logged(postgres, database: str, answered: set[str], timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    found = logged_ids(postgres, database)
    while time.monotonic() < deadline and not answered <= found:
        time.sleep(0.3)
        found = logged_ids(postgres, database)
    return found


def figures(load: Load, found: set[str], status: dict, note: str) -> dict:
    logged = len(load.answered & found)
    return {
        "answered": len(load.answered),
        "logged": logged,
        "spilled": status["spilled"],
        "replayed": status["replayed"],
        "lost": len(load.answered) - logged,
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
    service.stop()
    return figures(load, found, status, "kill -9 at half time, restart replays the journal")


def outage(postgres, model_dir: Path, scratch: Path, seconds: float) -> dict:
    url = postgres.create_database("chaos_outage")
    service = Service(model_dir, url, scratch, "outage")
    service.wait_ready()
    thread, out = in_background(run_load, service.port, "outage", seconds)
    time.sleep(seconds / 4)
    postgres.stop()  # the database goes away under load ...
    time.sleep(seconds / 3)
    unhealthy = not service.scoring_log()["healthy"]
    postgres.start()  # ... and comes back
    thread.join()
    load = out[0]
    status = service.wait_drained()
    found = wait_logged(postgres, "chaos_outage", load.answered)
    service.stop()
    note = f"database down {seconds / 3:.1f} s; health false during it: {unhealthy}, "
    return figures(load, found, status, note + f"true after: {status['healthy']}")


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
    service.stop()
    note = f"3 NUL-byte requests -> {codes}; log healthy after: {status['healthy']}"
    return figures(load, found, status, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="load per scenario (<= 30)")
    args = parser.parse_args()
    seconds = min(args.seconds, 30.0)
    model_dir = ROOT / "models"
    if not (model_dir / "manifest.sig").is_file():
        raise SystemExit("no sealed model: run `make run` first")
    from postgres import PostgresServer

    scratch = Path(tempfile.mkdtemp(prefix="leadscore-chaos-"))
    postgres = PostgresServer().start()
    results: dict = {"concurrency": CONCURRENCY, "seconds": seconds}
    try:
        for name, scenario in (
            ("kill -9 under load", kill_nine),
            ("database outage, recovery", outage),
            ("reloads: tampered, good", reloads),
            ("NUL byte on PostgreSQL", nul_bytes),
        ):
            print(f"{name} ...", flush=True)
            results[name] = scenario(postgres, model_dir, scratch, seconds)
    finally:
        postgres.remove()
    print(f"\n{'scenario':28s} {'answered':>9s} {'logged':>9s} {'spilled':>8s} "
          f"{'replayed':>9s} {'lost':>5s}  statuses / note")  # fmt: skip
    for name, row in results.items():
        if not isinstance(row, dict):
            continue
        print(f"{name:28s} {row['answered']:9,d} {row['logged']:9,d} {row['spilled']:8,d} "
              f"{row['replayed']:9,d} {row['lost']:5d}  {row['statuses']} "
              f"(+{row['connection_errors']} cut); {row['note']}")  # fmt: skip
    lost = sum(row["lost"] for row in results.values() if isinstance(row, dict))
    out = ROOT / "bench" / "results" / "chaos.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nlost in total: {lost} (must be 0); written to {out.relative_to(ROOT)}")
    shutil.rmtree(scratch, ignore_errors=True)
    if lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
