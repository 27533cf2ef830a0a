"""API keys: `X-API-Key` for scoring, `X-Admin-Key` for admin; constant-time comparison."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="client key")
admin_key_header = APIKeyHeader(name="X-Admin-Key", auto_error=False, description="admin key")


def matches(given: str | None, keys: tuple[bytes, ...]) -> bool:
    """True when `given` equals one of `keys`; every key is compared, in constant time."""
    candidate = (given or "").encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate, key)
    return found


def require_api_key(request: Request, key: str | None = Security(api_key_header)) -> None:
    keys = request.app.state.api_keys
    if keys and not matches(key, keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )


def require_admin_key(request: Request, key: str | None = Security(admin_key_header)) -> None:
    admin = request.app.state.admin_key
    if not admin:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="admin endpoints are disabled: set LEADSCORE_ADMIN_KEY to enable them",
        )
    if not matches(key, (admin,)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid X-Admin-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )
