"""Resource limits (issue 26): what one client may cost the service. Slow headers are closed,
a body with thousands of unknown keys gets a small 422, field errors are capped, connections
are bounded, and an optional per-key rate limit answers 429 with Retry-After."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from conftest import API_KEY, OUTCOME_KEY

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}


def test_a_client_trickling_header_bytes_is_closed(start_server, tiny_bundle_dir):
    server = start_server(tiny_bundle_dir, header_timeout_seconds=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer, sent = b"", 0
        for _ in range(600):  # at most 60 s of one header byte every 0.1 s, never finished
            try:
                sock.sendall(b"X")
                sent += 1
            except OSError:  # the server closed the connection
                break
            sock.settimeout(0.1)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk:
                break
        sock.settimeout(5)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert sent < 600  # closed while the client was still trickling
    assert server.client.get("/healthz").status_code == 200  # the service goes on


def test_a_slow_body_on_any_route_times_out_with_408(served):
    """The body deadline holds on every route, not only on /v1/score (which reads its body
    itself): FastAPI's own body parsing of /v1/outcomes waits no longer."""
    server = served[0]  # LEADSCORE_BODY_TIMEOUT_SECONDS=2 in the fixture
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/outcomes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            + f"\r\nX-Outcome-Key: {OUTCOME_KEY}\r\nContent-Length: 5000\r\n\r\n".encode()
            + b'{"events": ['  # ... and nothing more
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if answer.endswith(b"}"):
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"urn:leadscore:problem:body-timeout" in answer


def test_headers_beyond_the_limit_get_431(start_server, tiny_bundle_dir):
    server = start_server(tiny_bundle_dir, max_header_bytes=2048)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 4096)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_a_body_of_unknown_keys_gets_a_small_capped_422(start_server, tiny_bundle_dir):
    server = start_server(tiny_bundle_dir)
    lead = {"lead_id": "x", **{f"k{i}": 1 for i in range(330_000)}}
    body = orjson.dumps({"leads": [lead]})
    assert 3_500_000 < len(body) < 4 * 1024 * 1024
    answer = server.client.post(
        "/v1/score", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert len(answer.content) < 50_000  # was 42 MB
    problem = answer.json()
    assert len(problem["errors"]) == 100 and problem["errors_omitted"] == 330_000 - 100
    assert problem["errors"][0]["field"] == "leads[0].k0"
    assert problem["errors"][0]["type"] == "extra_forbidden"
    assert "and 329,995 more" in problem["detail"]

    many = b'{"leads": [' + b",".join([b"{}"] * 1_300_000) + b"]}"  # 1.3M leads of nothing
    answer = server.client.post(
        "/v1/score", content=many, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and len(answer.content) < 2_000
    assert answer.json()["errors"][0]["message"].startswith("List should have at most 1000 items")


def test_field_errors_are_capped_and_counted(start_server, tiny_bundle_dir):
    server = start_server(tiny_bundle_dir)
    leads = [{"lead_id": f"n{i}", "website_visits": -1} for i in range(300)]
    answer = server.client.post("/v1/score", json={"leads": leads}, headers=AUTH)
    problem = answer.json()
    assert answer.status_code == 422
    assert len(problem["errors"]) == 100 and problem["errors_omitted"] == 200
    assert problem["errors"][99]["field"] == "leads[99].website_visits"


def test_connections_beyond_the_limit_get_503(start_server, tiny_bundle_dir):
    server = start_server(tiny_bundle_dir, max_connections=4, header_timeout_seconds=60)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(4)]
    try:
        deadline = time.monotonic() + 30
        status = 200
        while status != 503 and time.monotonic() < deadline:  # until the server counts them
            status = server.client.get("/healthz").status_code
            time.sleep(0.1)
        assert status == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 30
    while status != 200 and time.monotonic() < deadline:
        status = server.client.get("/healthz").status_code
        time.sleep(0.1)
    assert status == 200  # the connections gone, the service answers again


def test_the_rate_limit_answers_429_with_retry_after(start_server, tiny_bundle_dir):
    other = "second-client-key"
    server = start_server(
        tiny_bundle_dir,
        api_keys=f"{API_KEY},{other}",
        rate_limit_per_second=0.1,
        rate_limit_burst=2,
    )
    client = server.client
    one = {"leads": [{"lead_id": "r-1"}]}
    statuses = [client.post("/v1/score", json=one, headers=AUTH).status_code for _ in range(2)]
    assert statuses == [200, 200]  # the burst
    limited = client.post("/v1/score", json=one, headers=AUTH)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert limited.headers["content-type"] == "application/problem+json"
    assert "LEADSCORE_RATE_LIMIT_PER_SECOND" in limited.json()["detail"]
    assert client.post("/v1/score", json=one, headers={"X-API-Key": other}).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes are not limited
