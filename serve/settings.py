"""Service settings, from the environment (prefix `LEADSCORE_`) or a `.env` file."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.scoring.log_table import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    model_uri: str = Field(
        "models", description="Bundle directory, or models:/<name>@<alias> from the MLflow registry"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    max_batch: int = Field(1000, ge=1, description="most leads in one /v1/score request")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    api_keys: SecretStr = Field(
        SecretStr(""), description="comma-separated keys for X-API-Key; empty = no auth"
    )
    outcome_keys: SecretStr = Field(
        SecretStr(""),
        description="comma-separated keys for X-Outcome-Key on /v1/outcomes (the CRM's own "
        "scope); empty = outcomes disabled, unless the service runs without any API key",
    )
    admin_key: SecretStr = Field(
        SecretStr(""), description="key for X-Admin-Key on /admin/*; empty = admin disabled"
    )
    database_url: str = Field(DEFAULT_URL, description="scoring log (SQLAlchemy URL)")
    log_scores: bool = Field(True, description="record every scored lead in the scoring log")
    journal_dir: Path | None = Field(
        None, description="scoring journal (default: beside a SQLite log, else data/)"
    )
    duplicate_lead_ids: Literal["warn", "reject"] = Field(
        "warn", description="a lead id twice in one request: warn on the repeat, or 422"
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="a request body not received within this gets 408"
    )
    allow_unagreed_contract: bool = Field(
        False,
        description="serve a model graded under a contract both owners have not approved (an "
        "override, shown in /v1/model and /readyz); off: such a model is refused",
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="request line and headers not received within this: 408, closed"
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="longer request line and headers: 431, closed"
    )
    keep_alive_seconds: int = Field(
        5, ge=1, description="an idle keep-alive connection is closed after this"
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections and requests at once; beyond: 503"
    )
    rate_limit_per_second: float = Field(
        0.0, ge=0, description="requests a second per key on /v1/* (0: no limit); beyond: 429"
    )
    rate_limit_burst: int = Field(
        20, ge=1, description="requests a key may send at once before the rate applies"
    )
    minimum_model_version: str | None = Field(
        None,
        pattern=r"^\d{4}\.\d{2}(\+[0-9a-f]+)?$",
        description="refuse a bundle trained on data of an earlier month than this model "
        "version (no rollback), e.g. 2026.05 or 2026.05+5796c5c152",
    )
    allow_unauthenticated: bool = Field(
        False, description="serve on a non-loopback host without API keys (not recommended)"
    )
    outcome_timeout_seconds: float = Field(
        3.0,
        gt=0,
        description="POST /v1/outcomes: 503 when the database has not stored the "
        "events within this",
    )
    outcome_clock_skew_seconds: float = Field(
        300.0, ge=0, description="how far in the future an outcome event's date may be"
    )
    journal_sync: bool = Field(
        True, description="fdatasync each group commit (off: survives a killed process only)"
    )
    database_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="connect, statement and lock timeout of the scoring log's database calls; "
        "a call running longer turns the scoring log's health red",
    )

    fixed_now: datetime | None = Field(
        None,
        description="the service's clock stands still at this moment (naive: UTC): behaviour "
        "features are counted as of it and scores are logged at it. For tests and replays "
        "only (the parity test scores through the API at the batch CLI's --as-of)",
    )

    def api_key_list(self) -> tuple[bytes, ...]:
        keys = self.api_keys.get_secret_value().split(",")
        return tuple(key.strip().encode() for key in keys if key.strip())

    def outcome_key_list(self) -> tuple[bytes, ...]:
        keys = self.outcome_keys.get_secret_value().split(",")
        return tuple(key.strip().encode() for key in keys if key.strip())

    def admin_key_bytes(self) -> bytes:
        return self.admin_key.get_secret_value().strip().encode()


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may be reachable from anywhere


def open_access_problem(settings: Settings) -> str | None:
    """Why the service must not start as configured (None: it may)."""
    if settings.api_key_list() or is_loopback(settings.host) or settings.allow_unauthenticated:
        return None
    return (
        f"refusing to serve on {settings.host} without API keys: anyone who reaches it could "
        "score leads and fill the scoring log. Set LEADSCORE_API_KEYS, listen on 127.0.0.1, "
        "or set LEADSCORE_ALLOW_UNAUTHENTICATED=true to accept that"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
