"""`python -m leadscore_serve` (what `leadscore serve` runs): uvicorn on the configured host,
with the connection limits and header deadline of the settings, and a log configuration whose
every handler (the root's included) redacts secrets."""

from __future__ import annotations

import copy
import sys
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from leadscore_serve.limits import HeaderDeadlineProtocol
from leadscore_serve.settings import get_settings, open_access_problem

# our loggers' INFO lines (model served, reloads, scoring log) go to the root's handler
SERVICE_LOGGERS = ("leadscore", "leadscore_serve", "serve")


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus a root handler, with the redacting filter on every handler: no
    record (ours, a library's) falls through to Python's last-resort handler, which no filter
    sees."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "leadscore.core.redact.RedactingFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    for name in SERVICE_LOGGERS:
        config["loggers"][name] = {"level": "INFO"}
    return config


def main() -> None:
    settings = get_settings()
    problem = open_access_problem(settings)
    if problem:  # before anything listens
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(1)
    uvicorn.run(
        "leadscore_serve.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        log_config=log_config(),
        access_log=False,
        http=HeaderDeadlineProtocol,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


if __name__ == "__main__":
    main()
