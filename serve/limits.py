"""Resource limits: what one client may cost the service.

- `BodySizeLimit`: larger bodies get 413 (a problem document) before they are parsed.
- `BodyDeadline`: the whole body is due within LEADSCORE_BODY_TIMEOUT_SECONDS, on every route.
- `HeaderDeadlineProtocol`: uvicorn's HTTP protocol with a deadline and a size limit for the
  request line and headers; a client trickling header bytes is answered 408 and closed
  (uvicorn itself has no header timeout, only the idle keep-alive one).
- `RateLimit`: an optional per-key token bucket on `/v1/*`, answering 429 with Retry-After.
- `check_counts`: a request whose objects hold more keys than its schema allows, or more
  leads than it may, gets a small 422 (the first unknown keys named) before the validator
  produces one error per key or validates every lead of a list far too long.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import math
import sys
import time
import typing
from collections import OrderedDict
from collections.abc import Iterable

import orjson
from annotated_types import MaxLen
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from leadscore_serve.problems import (
    MAX_ERRORS,
    PROBLEM_MEDIA_TYPE,
    CappedValidationError,
    problem_body,
)
from leadscore_serve.settings import get_settings


class BodyTooLarge(Exception):
    pass


async def send_problem(send, status: int, body: dict, headers: Iterable[tuple[bytes, bytes]] = ()):
    """Answer a problem document from ASGI middleware."""
    content = orjson.dumps(body)
    head = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", b"%d" % len(content)),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": content})


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, and counts streamed bytes when it is absent."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, send, int(declared))
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, send, received)

    async def _reject(self, scope, send, size: int) -> None:
        detail = (
            f"request body of {size} bytes exceeds the limit of {self.max_bytes} bytes "
            "(LEADSCORE_MAX_BODY_BYTES); send fewer leads per request"
        )
        body = problem_body(413, detail, scope.get("path"), "body-too-large")
        await send_problem(send, 413, body)


class BodyLate(StarletteHTTPException):
    """408: the request body did not arrive in time."""

    kind = "body-timeout"

    def __init__(self) -> None:
        detail = "the request body did not arrive in time (LEADSCORE_BODY_TIMEOUT_SECONDS)"
        super().__init__(408, detail)


class BodyDeadline:
    """Pure ASGI middleware: the whole request body is due within `seconds` of the request
    (every route, whoever reads the body); a late one gets 408. Raised as an HTTP exception
    from `receive`, so a route or FastAPI's own body parsing answers it as a problem."""

    def __init__(self, app, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False

        async def timed_receive():
            nonlocal complete
            if complete:  # the body is in: waiting for a disconnect has no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyLate from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


def plain_answer(status: bytes, text: str) -> bytes:
    """A minimal HTTP/1.1 answer that closes the connection (sent before any request exists)."""
    body = text.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
    )


# how long a refused connection is read and dropped before it closes (see `refuse`)
LINGER_SECONDS = 2.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request line and headers due within
    LEADSCORE_HEADER_TIMEOUT_SECONDS of the connection (or of a keep-alive request's first
    byte) and at most LEADSCORE_MAX_HEADER_BYTES long: 408 or 431, then the connection closes.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout = settings.header_timeout_seconds
        self.max_header_bytes = settings.max_header_bytes
        self.header_deadline: asyncio.TimerHandle | None = None
        self.header_bytes = 0
        self.reading_headers = False
        self.lingering = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_headers()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.start_headers()

    def on_headers_complete(self) -> None:
        self.stop_headers()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self.lingering:  # refused: read and dropped until the close
            return
        super().data_received(data)
        if self.reading_headers:  # this chunk did not complete the headers
            self.header_bytes += len(data)
            if self.header_bytes > self.max_header_bytes:
                self.refuse(b"431 Request Header Fields Too Large", "request headers too large")

    def start_headers(self) -> None:
        self.reading_headers = True
        self.header_bytes = 0
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self.headers_late)

    def stop_headers(self) -> None:
        self.reading_headers = False
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def headers_late(self) -> None:
        self.header_deadline = None
        if self.reading_headers:
            self.refuse(b"408 Request Timeout", "request headers not received in time")

    def refuse(self, status: bytes, text: str) -> None:
        """Answer `status` and close. The close lingers: the answer goes out with our end shut
        for writing, and what the client still sends is read and dropped for LINGER_SECONDS.
        Closing at once with unread bytes would send a reset, and a reset can destroy the
        answer in the client's buffer before it is read."""
        self.stop_headers()
        if self.transport.is_closing() or self.lingering:
            return
        if self.cycle is not None and not self.cycle.response_complete:  # an answer is written
            self.transport.close()
            return
        self.transport.write(plain_answer(status, text))
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


class TokenBuckets:
    """Per-client token buckets: `rate` requests a second, bursts of up to `burst`; the least
    recently seen clients are forgotten beyond `max_clients`."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float) -> float:
        """0 when a request of `client` may go ahead now, else the seconds until it may."""
        tokens, last = self.buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self.buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return wait


KEY_HEADERS = (b"x-api-key", b"x-outcome-key")


def client_of(scope, known_keys: frozenset[bytes]) -> str:
    """Whom a request counts against: its configured key (by fingerprint), else its address,
    so made-up keys share one bucket per address."""
    headers = dict(scope["headers"])
    for name in KEY_HEADERS:
        key = headers.get(name)
        if key is not None and key in known_keys:
            return "key:" + hashlib.sha256(key).hexdigest()[:16]
    address = scope.get("client") or ("?", 0)
    return f"address:{address[0]}"


class RateLimit:
    """Pure ASGI middleware: `/v1/*` requests beyond the per-key rate get 429 and Retry-After."""

    def __init__(self, app, rate: float, burst: int, keys: Iterable[bytes]) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)
        self.keys = frozenset(keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        wait = self.buckets.take(client_of(scope, self.keys), time.monotonic())
        if wait == 0:
            return await self.app(scope, receive, send)
        retry = max(1, math.ceil(wait))
        detail = (
            f"more than {self.buckets.rate:g} requests a second (bursts of "
            f"{self.buckets.burst}) for this key (LEADSCORE_RATE_LIMIT_PER_SECOND); retry in "
            f"{retry} s"
        )
        body = problem_body(429, detail, scope["path"], "rate-limited")
        await send_problem(send, 429, body, [(b"retry-after", str(retry).encode())])


@functools.lru_cache(maxsize=8)
def request_shape(request_model) -> tuple[str, frozenset[str], frozenset[str], int]:
    """The request's list field (`leads` of a score request, `events` of outcomes), the keys
    a request may hold, those of one item of the list, and the most items it may hold (from
    the request model)."""
    name, field = next(
        (name, field)
        for name, field in request_model.model_fields.items()
        if typing.get_origin(field.annotation) is list
    )
    item = typing.get_args(field.annotation)[0]
    most = min(
        (rule.max_length for rule in field.metadata if isinstance(rule, MaxLen)),
        default=sys.maxsize,
    )
    keys = frozenset(typing.get_type_hints(item))
    return name, frozenset(request_model.model_fields), keys, most


def extra_keys(value: dict, allowed: frozenset[str], where: tuple) -> tuple[list[dict], int]:
    """pydantic-shaped errors for the first MAX_ERRORS keys of `value` outside `allowed`, and
    how many there are (counted from the allowed ones present, not by walking every key)."""
    extra = itertools.islice((key for key in value if key not in allowed), MAX_ERRORS)
    errors = [
        {"loc": (*where, key), "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
        for key in extra
    ]
    return errors, len(value) - sum(1 for key in allowed if key in value)


def check_counts(body: bytes, request_model) -> None:
    """Raise a capped 422 when the request, or one of its leads, holds more keys than its
    schema has, or more leads than it may: the validator would build one error per unknown
    key (330k keys: seconds of work and a 42 MB answer), and validate every lead of a list far
    too long before saying so. Bodies within the counts go to the validator untouched."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # the validator names the syntax error
    if not isinstance(data, dict):
        return
    name, top, item_keys, most = request_shape(request_model)
    items = data.get(name)
    if isinstance(items, list) and len(items) > most:
        message = f"List should have at most {most} items after validation, not {len(items)}"
        too_long = {"loc": ("body", name), "msg": message, "type": "too_long"}
        raise CappedValidationError([too_long], 1)
    errors, total = extra_keys(data, top, ("body",)) if len(data) > len(top) else ([], 0)
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if isinstance(item, dict) and len(item) > len(item_keys):
            found, count = extra_keys(item, item_keys, ("body", name, index))
            errors.extend(found[: max(0, MAX_ERRORS - len(errors))])
            total += count
    if total:
        raise CappedValidationError(errors, total)
