"""Redaction: no credential leaves the process in clear, in cards, MLflow, answers or logs.

One rule, used everywhere something is written for others to read:

- every URL in a text is parsed (scheme, credentials, host, path, query): the password of its
  credentials becomes `***` (`postgresql+psycopg://user:***@host/db`), whatever characters it
  holds (`/ # ' ? @ :`), and so does the value of each query parameter with a secret-looking
  name (`?password=`, `sslpassword=`, `token=`, `client_secret=`, ...);
- `password=...`-style parameters outside URLs (libpq key/value strings, quoted or not) are
  masked;
- values registered as secrets (API keys, the admin key, a database password) are masked
  wherever they appear.

A database URL (SQLAlchemy's form) takes its password up to the last `@` of the URL, since
SQLAlchemy and libpq accept `/ # ? :` unescaped there; an http(s) URL (RFC 3986) has its
credentials before the first `/`, `?` or `#`. Masking too much is preferred to too little.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

SCHEME = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")
# schemes whose credentials end at the first / ? # (RFC 3986); others are database URLs
RFC_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "ftps", "file", "s3", "gs", "hdfs"})
SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credential"
)
SECRET_NAME = re.compile(rf"(?i)({SECRET_WORDS})")
QUOTED = r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\""
SECRET_PARAMETER = re.compile(
    rf"(?i)\b(?P<name>[\w.\-]*(?:{SECRET_WORDS})[\w.\-]*)(?P<quote>[\"']?)(?P<sep>\s*[=:]\s*)"
    rf"(?P<value>{QUOTED}|[^\s&;,]+)"
)
SECRET_KEY = re.compile(rf"(?i)({SECRET_WORDS}|authorization)")

_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never be shown (4 characters or more), wherever they appear."""
    _secrets.update(value for value in values if value and len(value) >= 4)


def url_secrets(url: str) -> list[str]:
    """The secrets a URL holds: its password and its secret query values (to register)."""
    found: list[str] = []
    for start, end in url_spans(url):
        found.extend(part for _, part in secret_parts(url[start:end]))
    return found


def url_spans(text: str) -> list[tuple[int, int]]:
    """Where each URL of `text` starts and ends: from its scheme to the next white space or
    the next URL's scheme."""
    starts = [match.start() for match in SCHEME.finditer(text)]
    spans = []
    for index, start in enumerate(starts):
        limit = starts[index + 1] if index + 1 < len(starts) else len(text)
        space = re.search(r"\s", text[start:limit])
        spans.append((start, start + space.start() if space else limit))
    return spans


def authority_end(url: str, rest: int, rfc: bool) -> int:
    """Where the credentials-and-host part of `url` (after `scheme://` at `rest`) ends."""
    if rfc:
        stop = re.search(r"[/?#]", url[rest:])
        return rest + stop.start() if stop else len(url)
    return len(url)  # a database URL: credentials may hold / ? #; the last @ decides


def secret_parts(url: str) -> list[tuple[tuple[int, int], str]]:
    """(span, value) of each secret in one URL: the password, then secret query values."""
    match = SCHEME.match(url)
    if not match:
        return []
    rest = match.end()
    rfc = match["scheme"].lower() in RFC_SCHEMES
    parts: list[tuple[tuple[int, int], str]] = []
    host_start = rest
    at = url.rfind("@", rest, authority_end(url, rest, rfc))
    if at >= 0:
        colon = url.find(":", rest, at)
        if colon >= 0 and "/" not in url[rest:colon]:
            parts.append(((colon + 1, at), url[colon + 1 : at]))
        host_start = at + 1
    query = url.find("?", host_start)
    if query >= 0:
        fragment = url.find("#", query) if rfc else -1
        end = fragment if fragment >= 0 else len(url)
        position = query + 1
        for pair in url[query + 1 : end].split("&"):
            name, equals, value = pair.partition("=")
            if equals and value and SECRET_NAME.search(name):
                start = position + len(name) + 1
                parts.append(((start, start + len(value)), value))
            position += len(pair) + 1
    return parts


def redact_url(url: str) -> str:
    """One URL with its password and secret query values masked."""
    for (start, end), _ in sorted(secret_parts(url), reverse=True):
        url = url[:start] + MASK + url[end:]
    return url


def redact_urls(text: str) -> str:
    for start, end in sorted(url_spans(text), reverse=True):
        text = text[:start] + redact_url(text[start:end]) + text[end:]
    return text


def masked_parameter(match: re.Match[str]) -> str:
    if match["value"].startswith(MASK):  # already masked (a URL's query)
        return str(match[0])
    return f"{match['name']}{match['quote']}{match['sep']}{MASK}"


def redact(text: str) -> str:
    """`text` with URL passwords, secret parameters and registered secrets masked."""
    if not isinstance(text, str) or not text:
        return text
    text = redact_urls(text)
    text = SECRET_PARAMETER.sub(masked_parameter, text)
    for secret in sorted(_secrets, key=len, reverse=True):
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


def redacting(handler: logging.Handler) -> logging.Handler:
    """`handler` with the redacting filter (added once)."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


def install_log_redaction() -> None:
    """Add the redacting filter to every handler configured so far (root and named loggers).

    The root logger gets a handler when it has none, so no record of ours ever falls through
    to Python's last-resort handler, which no filter sees.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        root.addHandler(handler)
    for logger in [root, *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):
            redacting(handler)
