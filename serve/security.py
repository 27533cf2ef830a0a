"""API keys: `X-API-Key` for scoring, `X-Outcome-Key` for CRM outcomes, `X-Admin-Key` for admin;
constant-time comparison. A key of one scope opens no other.

Each header is its own OpenAPI security scheme (`ClientKey`, `AdminKey`), so every route
declares the header it really checks.
"""

from __future__ import annotations

import hmac

from fastapi import Security, status
from fastapi.security import APIKeyHeader

from leadscore_serve.deps import AdminKeyDep, ApiKeysDep, OutcomeKeysDep
from leadscore_serve.problems import ProblemError

api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ClientKey",
    auto_error=False,
    description="client key for /v1/* (one of LEADSCORE_API_KEYS)",
)
admin_key_header = APIKeyHeader(
    name="X-Admin-Key",
    scheme_name="AdminKey",
    auto_error=False,
    description="admin key for /admin/* (LEADSCORE_ADMIN_KEY)",
)


outcome_key_header = APIKeyHeader(
    name="X-Outcome-Key",
    scheme_name="OutcomeKey",
    auto_error=False,
    description="CRM key for /v1/outcomes (one of LEADSCORE_OUTCOME_KEYS)",
)


def matches(given: str | None, keys: tuple[bytes, ...]) -> bool:
    """True when `given` equals one of `keys`; every key is compared, in constant time."""
    candidate = (given or "").encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate, key)
    return found


async def require_api_key(keys: ApiKeysDep, key: str | None = Security(api_key_header)) -> None:
    if keys and not matches(key, keys):
        raise ProblemError(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid X-API-Key header",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
        )


async def require_admin_key(
    admin: AdminKeyDep, key: str | None = Security(admin_key_header)
) -> None:
    if not admin:
        raise ProblemError(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: set LEADSCORE_ADMIN_KEY to enable them",
            kind="admin-disabled",
        )
    if not matches(key, (admin,)):
        raise ProblemError(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid X-Admin-Key header",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'ApiKey header="X-Admin-Key"'},
        )


async def require_outcome_key(
    keys: OutcomeKeysDep, api_keys: ApiKeysDep, key: str | None = Security(outcome_key_header)
) -> None:
    """Outcomes have their own keys; without any, they are open only on a service that has no
    keys at all (a local trial), and disabled otherwise."""
    if not keys:
        if api_keys:
            raise ProblemError(
                status.HTTP_403_FORBIDDEN,
                "outcomes are disabled: set LEADSCORE_OUTCOME_KEYS to enable them",
                kind="outcomes-disabled",
            )
        return
    if not matches(key, keys):
        raise ProblemError(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid X-Outcome-Key header",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'ApiKey header="X-Outcome-Key"'},
        )
