"""One error shape for every 4xx and 5xx: RFC 9457 problem details (application/problem+json).

`Problem` carries the standard members (type, title, status, detail, instance) and `errors`,
the field-by-field list of a 422 (empty otherwise). Routes raise `ProblemError` (or
FastAPI's `HTTPException`); the handlers installed by `install_problem_handlers` turn every
error, including Starlette's 404/405 and unexpected exceptions, into this shape. Routes declare
the statuses they send with `problem_responses(...)`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ExceptionHandler

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:leadscore:problem:"
MAX_SUMMARY = 5  # field errors named in `detail`
MAX_ERRORS = 100  # field errors listed in `errors`; `errors_omitted` counts the rest


class FieldError(BaseModel):
    """One field at fault in a request."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    field: str = Field(description="where, e.g. `leads[0].website_visits` (`body` for the whole)")
    loc: list[str | int] = Field(description="the same place as a path: body, leads, 0, ...")
    message: str = Field(description="what is wrong, e.g. `Input should be >= 0`")
    type: str = Field(description="machine-readable kind of error, e.g. `greater_than_equal`")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details), for every 4xx and 5xx the service sends."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: str = Field(
        "about:blank",
        description="URI naming the kind of problem (`urn:leadscore:problem:...`, or "
        "`about:blank` when the HTTP status says it all)",
    )
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="the HTTP status code")
    detail: str = Field(description="what went wrong for this request, in plain words")
    instance: str | None = Field(None, description="the request path")
    errors: list[FieldError] = Field(
        default_factory=list,
        description=f"the fields at fault (422; the first {MAX_ERRORS}), empty otherwise",
    )
    errors_omitted: int = Field(
        0, ge=0, description=f"field errors beyond the first {MAX_ERRORS}, left out of `errors`"
    )


class CappedValidationError(RequestValidationError):
    """A 422 whose `errors` are the first of `total` (the rest are counted, not listed)."""

    def __init__(self, errors: list[dict], total: int) -> None:
        super().__init__(errors)
        self.total = total


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.headers, self.extra = headers, extra or {}


def problem_body(
    status: int,
    detail: str,
    instance: str | None = None,
    kind: str | None = None,
    errors: list[dict] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict:
    """The problem document as a dict: `kind` (e.g. `invalid-request`) names its type."""
    return {
        "type": f"{TYPE_PREFIX}{kind}" if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": errors or [],
        "errors_omitted": 0,
        **(extra or {}),
    }


def problem_response(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def field_path(loc) -> str:
    """('body', 'leads', 0, 'website_visits') -> 'leads[0].website_visits'."""
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "header") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def field_errors(errors: list[dict]) -> list[dict]:
    """pydantic's error list -> `FieldError`s."""
    return [
        {
            "field": field_path(item.get("loc", ())),
            "loc": list(item.get("loc", ())),
            "message": item.get("msg", "invalid"),
            "type": item.get("type", "invalid"),
        }
        for item in errors
    ]


async def validation_problem(request: Request, error: RequestValidationError) -> Response:
    """422 naming each field at fault, e.g. `leads[0].website_visits: Input should be >= 0`;
    the first MAX_ERRORS in `errors`, the rest counted in `errors_omitted`."""
    listed = list(error.errors())
    total = max(getattr(error, "total", len(listed)), len(listed))
    errors = field_errors(listed[:MAX_ERRORS])
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:MAX_SUMMARY])
    if total > MAX_SUMMARY:
        detail += f"; and {total - MAX_SUMMARY:,} more"
    extra = {"errors_omitted": total - len(errors)}
    body = problem_body(422, detail, request.url.path, "invalid-request", errors, extra)
    return problem_response(422, body)


async def http_problem(request: Request, error: StarletteHTTPException) -> Response:
    """Starlette/FastAPI HTTP errors (404, 405, security refusals) as problems."""
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    kind = getattr(error, "kind", None)  # set by the service's own HTTP exceptions
    body = problem_body(error.status_code, detail, request.url.path, kind)
    return problem_response(error.status_code, body, getattr(error, "headers", None))


async def raised_problem(request: Request, error: ProblemError) -> Response:
    body = problem_body(error.status, error.detail, request.url.path, error.kind, None, error.extra)
    return problem_response(error.status, body, error.headers)


async def unexpected_problem(request: Request, error: Exception) -> Response:
    """500 for anything unforeseen; the cause goes to the log (the server logs the traceback
    too), never to the client."""
    log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
    detail = "the service failed to answer this request; the error is logged"
    return problem_response(500, problem_body(500, detail, request.url.path, "internal-error"))


def install_problem_handlers(app: FastAPI) -> None:
    # Starlette calls each handler only with its own exception class
    app.add_exception_handler(RequestValidationError, cast(ExceptionHandler, validation_problem))
    app.add_exception_handler(StarletteHTTPException, cast(ExceptionHandler, http_problem))
    app.add_exception_handler(ProblemError, cast(ExceptionHandler, raised_problem))
    app.add_exception_handler(Exception, unexpected_problem)


DESCRIPTIONS = {
    401: "missing or invalid API key (the `WWW-Authenticate` header names the scheme)",
    403: "admin endpoints or outcomes are disabled (no LEADSCORE_ADMIN_KEY or "
    "LEADSCORE_OUTCOME_KEYS)",
    404: "no such path",
    405: "method not allowed on this path",
    408: "the request body did not arrive in time (LEADSCORE_BODY_TIMEOUT_SECONDS)",
    409: "the new model failed to load; the old model is still serving",
    413: "request body too large (LEADSCORE_MAX_BODY_BYTES)",
    429: "too many requests for this key (LEADSCORE_RATE_LIMIT_PER_SECOND); `Retry-After` says "
    "when to retry",
    415: "the body is not JSON (send `Content-Type: application/json`)",
    422: "a field is missing, of the wrong type or out of range; `errors` names each one",
    500: "unexpected server error (logged)",
    503: "not ready (no model loaded yet), or the scoring log can keep no lead now (journal "
    "and database both failing; nothing was scored into it)",
}


def problem_responses(*statuses: int, schemas: dict[int, str] | None = None) -> dict:
    """`responses=` for a route: each status answered with a problem document (plus 500).

    `schemas` names another component (a `Problem` with extension members) for a status.
    """
    schemas = schemas or {}
    return {
        status: {
            "description": DESCRIPTIONS[status],
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": f"#/components/schemas/{schemas.get(status, 'Problem')}"}
                }
            },
        }
        for status in (*statuses, 500)
    }


def stored_event_responses(*statuses: int) -> dict:
    """`responses=` of a route that stores events idempotently by event id (outcomes, activity):
    409 for an id stored with another payload, 503 with `Retry-After` (plus `statuses`)."""
    responses = problem_responses(*sorted({*statuses, 409, 503}))
    responses[409]["description"] = (
        "an event id already stored (or repeated in the request) with a different payload; "
        "`event_ids` names them and nothing of the request was stored"
    )
    responses[503]["description"] = (
        "the database cannot store the events now; send them again after `Retry-After` seconds "
        "(event ids make the retry idempotent)"
    )
    return responses


def unavailable(error: Exception, kind: str) -> ProblemError:
    """503 with `Retry-After` for a store that cannot answer now (its error's `retry_after`)."""
    retry_after = getattr(error, "retry_after", 5)
    return ProblemError(503, str(error), kind=kind, headers={"Retry-After": str(retry_after)})
