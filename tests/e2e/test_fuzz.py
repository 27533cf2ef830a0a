"""Schemathesis against the running service's own OpenAPI: no 5xx in 500+ generated requests.

Run by `make fuzz` (CI runs it after `make test`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import API_KEY, OUTCOME_KEY

pytestmark = [pytest.mark.fuzz, pytest.mark.server]
MIN_REQUESTS = 500


def requests_by_status(metrics_text: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    pattern = re.compile(r'^leadscore_http_requests_total\{route="[^"]*",status="(\d+)"\} (\S+)$')
    for line in metrics_text.splitlines():
        match = pattern.match(line)
        if match:
            counts[match[1]] = counts.get(match[1], 0) + float(match[2])
    return counts


def test_no_server_errors_in_generated_requests(served, tmp_path):
    server, _ = served
    before = sum(requests_by_status(server.client.get("/metrics").text).values())
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"), "run", f"{server.url}/openapi.json",
            "--checks", "not_a_server_error",
            "--header", f"X-API-Key: {API_KEY}",
            "--header", f"X-Outcome-Key: {OUTCOME_KEY}",  # /v1/outcomes: events reach the store
            "--max-examples", "300",
            "--seed", "20261123",
            "--generation-database", "none",
            "--exclude-path", "/admin/reload",  # each accepted reload rebuilds the model
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    counts = requests_by_status(server.client.get("/metrics").text)
    made = sum(counts.values()) - before
    server_errors = {status: n for status, n in counts.items() if status.startswith("5")}
    print(f"schemathesis: {made:.0f} requests, by status {counts}")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert not server_errors, server.output()[-4000:]
    assert made >= MIN_REQUESTS
