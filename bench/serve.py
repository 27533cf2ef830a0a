"""Benchmark of the scoring service (not a test), against MLflow's scoring server, in one run.

On the model `make run` trained (models/ and its registered MLflow version), it starts
  - this service (`leadscore serve`, one uvicorn worker, scoring log on), and
  - `mlflow models serve --env-manager local` on the same registered version,
then measures with a keep-alive HTTP/1.1 load generator: one-lead requests at concurrency 1, 8
and 32 (throughput, p50, p99; ours with reasons off and on), the cost of durability (the same
with the journal unsynced and with no scoring log), 1,000-lead batches (leads/s), the
in-process rows/s of plain `pipeline.predict_proba` as a reference, and finally a 60-second
load on this service at concurrency 32 (failed requests, resident-memory growth). First, in
process, where a request's time goes, step by step (bench/serve_steps.py).

With a model trained on activity events at hand (`make example-activity`: examples/activity, or
`--activity DIR`), the behaviour case (bench/serve_behaviour.py): one lead with a stored history
of 50 events, scored with its behaviour as of now, against MLflow's plain one-lead scoring of
the same model (goal: >= 20x at concurrency 8). `--behaviour-only` runs that case alone.

Usage: `make bench-serve` or `python bench/serve.py [--seconds 8] [--soak 60] [--activity DIR]
[--behaviour-only]`. Figures go to stdout and bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


# --- load generator ------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    failed: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    leads_per_s: float


async def _exchange(reader, writer, request: bytes) -> int:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).strip(), 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status


async def _worker(port, requests, start, deadline, latencies, failures):
    reader = writer = None
    i = start
    while time.perf_counter() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection(HOST, port)
        began = time.perf_counter()
        try:
            status = await _exchange(reader, writer, requests[i % len(requests)])
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            failures.append(1)
            writer.close()
            reader = writer = None
            continue
        latencies.append(time.perf_counter() - began)
        if status != 200:
            failures.append(status)
        i += 1
    if writer is not None:
        writer.close()


def run_load(port, requests, concurrency, seconds, leads_per_request=1) -> LoadResult:
    latencies: list[float] = []
    failures: list[int] = []

    async def main():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _worker(port, requests, k * 97, deadline, latencies, failures)
                for k in range(concurrency)
            )
        )

    began = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - began
    done = len(latencies)
    lat = np.array(latencies or [np.nan]) * 1000
    return LoadResult(
        requests=done,
        failed=len(failures),
        seconds=round(elapsed, 2),
        throughput=round(done / elapsed, 1),
        p50_ms=round(float(np.percentile(lat, 50)), 2),
        p99_ms=round(float(np.percentile(lat, 99)), 2),
        leads_per_s=round(done * leads_per_request / elapsed, 1),
    )


def http_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str, process: subprocess.Popen, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            if httpx.get(f"http://{HOST}:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on port {port} not ready after {timeout} s")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(command, env={**os.environ, **env}, stdout=handle, stderr=handle)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


# --- request bodies ------------------------------------------------------------------------


def lead_values(frame: pd.DataFrame, features: dict) -> list[dict]:
    """Leads as the API takes them (JSON types; missing fields left out)."""
    leads = []
    for record in frame.to_dict("records"):
        lead = {"lead_id": str(record["lead_id"])}
        for name in (*features["categorical"], *features["numeric"], *features["boolean"]):
            value = record[name]
            if pd.isna(value):
                continue
            if name in features["boolean"]:
                lead[name] = bool(value)
            elif name in features["numeric"]:
                lead[name] = float(value)
            else:
                lead[name] = str(value)
        leads.append(lead)
    return leads


def mlflow_records(frame: pd.DataFrame, features: dict) -> list[dict]:
    """The same leads in MLflow's `dataframe_records` form (its schema: floats and strings)."""
    records = []
    for record in frame.to_dict("records"):
        row = {}
        for name in features["categorical"]:
            row[name] = None if pd.isna(record[name]) else str(record[name])
        for name in (*features["numeric"], *features["boolean"]):
            row[name] = None if pd.isna(record[name]) else float(record[name])
        records.append(row)
    return records


# --- the benchmark -------------------------------------------------------------------------


def reference_rows_per_s(pipeline, frame: pd.DataFrame, fields: list[str]) -> dict:
    inputs = frame[fields]
    pipeline.predict_proba(inputs.head(1))
    began, n = time.perf_counter(), 0
    while time.perf_counter() - began < 3:
        pipeline.predict_proba(inputs.iloc[[n % len(inputs)]])
        n += 1
    one_row = n / (time.perf_counter() - began)
    batch = inputs.head(1000)
    began = time.perf_counter()
    for _ in range(5):
        pipeline.predict_proba(batch)
    batch_rows = 5000 / (time.perf_counter() - began)
    return {"one_row_per_s": round(one_row, 1), "batch_1000_rows_per_s": round(batch_rows, 1)}


def start_ours(model_dir: Path, port: int, scratch: Path, **settings: str) -> subprocess.Popen:
    """This service on `model_dir`, scoring log on (SQLite in `scratch`), no API key."""
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return start(
        [str(BIN / "leadscore"), "serve", "--port", str(port)],
        {**env, "LEADSCORE_MODEL_URI": str(model_dir), "LEADSCORE_API_KEYS": "",
         "LEADSCORE_DATABASE_URL": f"sqlite:///{scratch / 'scoring_log.db'}", **settings},
        scratch / f"ours-{port}.log",
    )  # fmt: skip


def post(port: int, path: str, body: dict) -> dict:
    import httpx

    answer = httpx.post(f"http://{HOST}:{port}{path}", json=body, timeout=60)
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def mlflow_one_lead(card: dict, frame: pd.DataFrame, seconds: float) -> dict:
    """`mlflow models serve` on the card's registered version: one-lead load at concurrency
    1, 8 and 32 (its records carry every input, the behaviour fields ready-made)."""
    registered = card["mlflow"]
    uri = f"models:/{registered['registered_model']}/{registered['registered_version']}"
    port, scratch = free_port(), Path(tempfile.mkdtemp(prefix="leadscore-bench-mlflow-"))
    server = start(
        [str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
         "-h", HOST, "-p", str(port)],
        {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
         "MLFLOW_TRACKING_URI": registered.get("tracking_uri") or "sqlite:///mlflow.db"},
        scratch / "mlflow.log",
    )  # fmt: skip
    try:
        wait_http(port, "/ping", server)
        body = [json.dumps({"dataframe_records": [r]}).encode()
                for r in mlflow_records(frame, card["features"])]  # fmt: skip
        requests = [http_request(port, "/invocations", b) for b in body]
        run_load(port, requests, 4, 1.5)
        return {c: asdict(run_load(port, requests, c, seconds)) for c in (1, 8, 32)}
    finally:
        stop(server)


def run_behaviour_case(project: Path, seconds: float) -> dict | None:
    """The behaviour case when `project` holds a model trained on events (else None)."""
    import types

    from serve_behaviour import behaviour_case

    if not (project / "models" / "model_card.json").is_file():
        print(f"behaviour case skipped: no model in {project}/models (make example-activity)")
        return None
    tools = types.SimpleNamespace(
        free_port=free_port, start_ours=start_ours, wait_http=wait_http, post=post,
        http_request=http_request, run_load=run_load, stop=stop, mlflow_one_lead=mlflow_one_lead,
    )  # fmt: skip
    case = behaviour_case(project, seconds, None, tools)
    for c in (1, 8, 32):
        print(f"  one lead, 50 stored events  c={c:<2d} ours {case['ours'][c]['throughput']:8.1f}"
              f" req/s  mlflow {case['mlflow'][c]['throughput']:8.1f} req/s")  # fmt: skip
    print(f"  goal >= 20x at c=8: {case['goal']['ratio_c8']}x "
          f"({'met' if case['goal']['met'] else 'MISSED'})")  # fmt: skip
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="per measurement")
    parser.add_argument("--soak", type=float, default=60, help="length of the load test")
    parser.add_argument("--activity", type=Path, default=ROOT / "examples" / "activity",
                        help="a project whose models/ were trained on activity events")  # fmt: skip
    parser.add_argument("--behaviour-only", action="store_true", help="the behaviour case alone")
    args = parser.parse_args()
    if args.behaviour_only:
        case = run_behaviour_case(args.activity, args.seconds)
        out = ROOT / "bench" / "results" / "serve_behaviour.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(case, indent=2) + "\n")
        return

    card_path = ROOT / "models" / "model_card.json"
    if not card_path.is_file():
        raise SystemExit("no trained model: run `make run` first")
    from leadscore.model.bundle import read_card

    card = read_card(card_path).to_record()  # with its MLflow run (training_run.json)
    features = card["features"]
    fields = [*features["categorical"], *features["numeric"], *features["boolean"]]
    registered = card["mlflow"]
    test = pd.read_parquet(ROOT / "data/processed/test.parquet").head(3000)
    leads = lead_values(test, features)
    records = mlflow_records(test, features)

    from serve_steps import breakdown, print_breakdown

    results_steps = breakdown(leads)
    print_breakdown(results_steps)
    scratch = Path(tempfile.mkdtemp(prefix="leadscore-bench-serve-"))
    ours_port, mlflow_port = free_port(), free_port()
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    ours_server = start(
        [str(BIN / "leadscore"), "serve", "--port", str(ours_port)],
        {
            **env,
            "LEADSCORE_MODEL_URI": str(ROOT / "models"),
            "LEADSCORE_DATABASE_URL": f"sqlite:///{scratch / 'scoring_log.db'}",
            "LEADSCORE_API_KEYS": "",
        },
        scratch / "ours.log",
    )
    mlflow_uri = f"models:/{registered['registered_model']}/{registered['registered_version']}"
    mlflow_server = start(
        [
            str(BIN / "mlflow"), "models", "serve", "-m", mlflow_uri, "--env-manager", "local",
            "-h", HOST, "-p", str(mlflow_port),
        ],
        {**env, "MLFLOW_TRACKING_URI": registered.get("tracking_uri") or "sqlite:///mlflow.db"},
        scratch / "mlflow.log",
    )  # fmt: skip
    results: dict = {"model_version": card["model_version"], "mlflow_model": mlflow_uri}
    results["steps_us_per_lead"] = results_steps
    try:
        wait_http(ours_port, "/readyz", ours_server)
        wait_http(mlflow_port, "/ping", mlflow_server)
        print(f"servers up: leadscore :{ours_port}, mlflow :{mlflow_port}; {args.seconds} s each")

        import joblib

        pipeline = joblib.load(ROOT / "models" / "model.joblib")
        results["reference_predict_proba"] = reference_rows_per_s(pipeline, test, fields)

        def ours(batch: list[dict], reasons: bool) -> bytes:
            body = json.dumps({"leads": batch, "reasons": reasons}).encode()
            return http_request(ours_port, "/v1/score", body)

        def theirs(batch: list[dict]) -> bytes:
            body = json.dumps({"dataframe_records": batch}).encode()
            return http_request(mlflow_port, "/invocations", body)

        def ours_one(reasons: bool) -> list[bytes]:
            return [ours([lead], reasons) for lead in leads]

        mlflow_one = [theirs([record]) for record in records]
        starts = (0, 1000, 2000)
        ours_batch = [ours(leads[k : k + 1000], False) for k in starts]
        mlflow_batch = [theirs(records[k : k + 1000]) for k in starts]
        cases = {
            "mlflow": (mlflow_port, mlflow_one),
            "ours_reasons_off": (ours_port, ours_one(False)),
            "ours_reasons_on": (ours_port, ours_one(True)),
        }
        one_lead: dict = {}
        for name, (port, requests) in cases.items():
            run_load(port, requests, 4, 1.5)  # warm-up
            for concurrency in (1, 8, 32):
                outcome = run_load(port, requests, concurrency, args.seconds)
                one_lead[f"{name}@{concurrency}"] = asdict(outcome)
                print(f"  one lead  {name:17s} c={concurrency:<2d} {_line(outcome)}")
        results["one_lead"] = one_lead
        batches = {}
        for name, port, requests in (
            ("mlflow", mlflow_port, mlflow_batch),
            ("ours", ours_port, ours_batch),
        ):
            run_load(port, requests, 1, 1.0, 1000)
            outcome = run_load(port, requests, 2, args.seconds, 1000)
            batches[name] = asdict(outcome)
            print(
                f"  1000-lead {name:17s} c=2  {_line(outcome)}  {outcome.leads_per_s:,.0f} leads/s"
            )
        results["batch_1000"] = batches

        results["durability"] = durability_cost(
            ours_port, ours_one(False), one_lead, args.seconds, scratch, env, leads
        )

        server = psutil.Process(ours_server.pid)
        rss_before = server.memory_info().rss
        soak = run_load(ours_port, cases["ours_reasons_on"][1], 32, args.soak)
        rss_after = server.memory_info().rss
        results["soak"] = {
            **asdict(soak),
            "concurrency": 32,
            "reasons": True,
            "rss_before_mb": round(rss_before / 2**20, 1),
            "rss_after_mb": round(rss_after / 2**20, 1),
            "rss_growth": round(rss_after / rss_before - 1, 4),
        }
        print(f"  soak {args.soak:.0f} s c=32 reasons on: {_line(soak)}; RSS "
              f"{rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB")  # fmt: skip
    finally:
        stop(ours_server)
        stop(mlflow_server)
    results["behaviour"] = run_behaviour_case(args.activity, args.seconds)
    results["goals"] = goals(results)
    out = ROOT / "bench" / "results" / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_summary(results)
    print(f"\nwritten to {out.relative_to(ROOT)}")


def durability_cost(port, requests, one_lead, seconds, scratch, env, leads) -> dict:
    """One-lead latency with the journal synced (the default: every answered lead is on disk),
    with the journal unsynced (survives a killed process, not a machine crash), and with no
    scoring log at all: what durability costs in p50 and p99."""
    configs = {
        "journal_unsynced": {"LEADSCORE_JOURNAL_SYNC": "false"},
        "no_scoring_log": {"LEADSCORE_LOG_SCORES": "false"},
    }
    out = {"journal_fsync": {c: one_lead[f"ours_reasons_off@{c}"] for c in (1, 8, 32)}}
    for name, settings in configs.items():
        other_port = free_port()
        server = start(
            [str(BIN / "leadscore"), "serve", "--port", str(other_port)],
            {
                **env,
                "LEADSCORE_MODEL_URI": str(ROOT / "models"),
                "LEADSCORE_DATABASE_URL": f"sqlite:///{scratch / f'{name}.db'}",
                "LEADSCORE_API_KEYS": "",
                **settings,
            },
            scratch / f"{name}.log",
        )
        try:
            wait_http(other_port, "/readyz", server)
            body = [r.replace(f":{port}\r\n".encode(), f":{other_port}\r\n".encode())
                    for r in requests]  # fmt: skip
            run_load(other_port, body, 4, 1.5)
            out[name] = {}
            for concurrency in (1, 8, 32):
                outcome = run_load(other_port, body, concurrency, seconds)
                out[name][concurrency] = asdict(outcome)
                print(f"  one lead  {name:17s} c={concurrency:<2d} {_line(outcome)}")
        finally:
            stop(server)
    print("cost of durability, one lead, reasons off (p50 / p99 ms):")
    for concurrency in (1, 8, 32):
        cells = "  ".join(
            f"{name} {out[name][concurrency]['p50_ms']:.2f}/{out[name][concurrency]['p99_ms']:.2f}"
            for name in out
        )
        print(f"  c={concurrency:<2d} {cells}")
    return out


def _line(r: LoadResult) -> str:
    return (
        f"{r.throughput:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  "
        f"failed {r.failed}"
    )


def goals(results: dict) -> dict:
    one = results["one_lead"]
    off8, on8, ml8 = one["ours_reasons_off@8"], one["ours_reasons_on@8"], one["mlflow@8"]
    soak = results["soak"]
    batch = results["batch_1000"]
    ours_batch, mlflow_batch = batch["ours"]["leads_per_s"], batch["mlflow"]["leads_per_s"]
    checks = [
        ("one-lead throughput, reasons off, c=8", off8["throughput"] / ml8["throughput"], ">=", 20),
        ("one-lead p99, reasons off, c=8", off8["p99_ms"] / ml8["p99_ms"], "<=", 0.1),
        ("one-lead throughput, reasons on, c=8", on8["throughput"] / ml8["throughput"], ">=", 20),
        ("1000-lead batches, leads/s", ours_batch / mlflow_batch, ">=", 5),
    ]
    out = {}
    for name, ratio, op, limit in checks:
        met = ratio >= limit if op == ">=" else ratio <= limit
        out[f"{name} vs MLflow"] = {"ratio": round(ratio, 3), "goal": f"{op} {limit}", "met": met}
    out["60 s load at c=32: zero failed requests"] = {
        "failed": soak["failed"],
        "met": soak["failed"] == 0,
    }
    out["60 s load at c=32: RSS growth < 10 %"] = {
        "growth": soak["rss_growth"],
        "met": soak["rss_growth"] < 0.10,
    }  # fmt: skip
    if results.get("behaviour"):
        goal = results["behaviour"]["goal"]
        out["one lead with 50 stored events, c=8 vs MLflow (same model)"] = {
            "ratio": goal["ratio_c8"], "goal": ">= 20", "met": goal["met"],
        }  # fmt: skip
    for concurrency in (1, 32):
        ours = one[f"ours_reasons_off@{concurrency}"]["throughput"]
        out[f"one-lead throughput ratio, reasons off, c={concurrency} (context)"] = {
            "ratio": round(ours / one[f"mlflow@{concurrency}"]["throughput"], 2),
        }
    return out


def print_summary(results: dict) -> None:
    reference = results["reference_predict_proba"]
    print("\nreference, in process: pipeline.predict_proba "
          f"{reference['one_row_per_s']:,.0f} rows/s one row at a time, "
          f"{reference['batch_1000_rows_per_s']:,.0f} rows/s in 1000-row batches")  # fmt: skip
    print("goals (ratios against MLflow measured in this run):")
    for name, check in results["goals"].items():
        mark = "" if "met" not in check else ("met   " if check["met"] else "MISSED")
        figures = ", ".join(f"{k} {v}" for k, v in check.items() if k != "met")
        print(f"  {mark:6s} {name}: {figures}")


if __name__ == "__main__":
    main()
