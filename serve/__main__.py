"""`python -m leadscore_serve` (what `leadscore serve` runs): uvicorn on the configured host."""

from __future__ import annotations

import sys

import uvicorn

from leadscore_serve.settings import get_settings, open_access_problem


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
        access_log=False,
    )


if __name__ == "__main__":
    main()
