"""Redaction: no credential leaves the process in clear, in cards, MLflow, answers or logs.

One rule, used everywhere something is written for others to read: the password of every URI
becomes `***` (`postgresql+psycopg://user:***@host/db`), `password=...`-style parameters are
masked, and values registered as secrets (API keys, the admin key, the bundle key) are masked
wherever they appear.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

URI_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/?#@\s'\"]*):(?P<password>[^@/?#\s'\"]*)@"
)
SECRET_WORDS = r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
SECRET_PARAMETER = re.compile(
    rf"(?i)\b(?P<name>{SECRET_WORDS})(?P<sep>\s*[=:]\s*)(?P<value>[^\s&;,'\"]+)"
)
SECRET_KEY = re.compile(rf"(?i)({SECRET_WORDS}|credential|authorization)")

_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never be shown (4 characters or more), wherever they appear."""
    _secrets.update(value for value in values if value and len(value) >= 4)


def redact(text: str) -> str:
    """`text` with URI passwords, secret parameters and registered secrets masked."""
    if not isinstance(text, str) or not text:
        return text
    text = URI_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = SECRET_PARAMETER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def redact_mapping(value: Any) -> Any:
    """A copy of nested dicts/lists with every string redacted, and values under secret-looking
    keys (`password`, `token`, `api_key`, ...) masked whole."""
    if isinstance(value, dict):
        return {
            key: MASK
            if isinstance(key, str) and SECRET_KEY.search(key) and value[key] not in (None, "")
            else redact_mapping(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_mapping(item) for item in value)
    if isinstance(value, str):
        return redact(value)
    return value


class RedactingFilter(logging.Filter):
    """A handler filter: the formatted message and any traceback are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            if redact(text) != text:  # the traceback carries a secret: show it redacted
                record.msg, record.args = f"{clean}\n{redact(text)}", None
                record.exc_info, record.exc_text = None, None
        return True


def install_log_redaction() -> None:
    """Add the redacting filter to every handler configured so far (root and named loggers)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
