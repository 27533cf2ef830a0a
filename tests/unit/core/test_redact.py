"""One redaction rule: URI passwords, secret parameters and registered secrets never shown."""

from __future__ import annotations

import logging

from leadscore.core.redact import RedactingFilter, redact, redact_mapping, register_secrets


def test_uri_passwords_are_masked_and_the_rest_kept():
    assert (
        redact("postgresql+psycopg://scorer:S3cr%40t@db.internal:5432/leads")
        == "postgresql+psycopg://scorer:***@db.internal:5432/leads"
    )
    text = "cannot fetch models:/x@champion from mysql://u:pw@h/db: not found"
    assert redact(text) == "cannot fetch models:/x@champion from mysql://u:***@h/db: not found"
    for plain in ("sqlite:///data/log.db", "http://127.0.0.1:5000/path@x", "models:/leadscore@a"):
        assert redact(plain) == plain


def test_secret_parameters_and_registered_secrets_are_masked():
    assert redact("host=db user=app password=hunter22 dbname=x") == (
        "host=db user=app password=*** dbname=x"
    )
    assert redact("https://h/api?token=abc123&x=1") == "https://h/api?token=***&x=1"
    register_secrets(["k3y-only-we-know"])
    assert redact("got header k3y-only-we-know") == "got header ***"


def test_nested_answers_are_redacted_and_secret_keys_masked():
    card = {
        "mlflow": {"tracking_uri": "postgresql://a:pw1234@h/m", "run_id": "r1"},
        "database": {"password": "pw1234", "port": 5432},
        "list": ["mysql://b:pw1234@h/x", 3],
    }
    clean = redact_mapping(card)
    assert "pw1234" not in repr(clean)
    assert clean["mlflow"]["run_id"] == "r1" and clean["database"]["port"] == 5432


def test_log_records_are_redacted_with_their_tracebacks(caplog):
    logger = logging.getLogger("test.redact")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    try:
        logger.error("connect to %s failed", "postgresql://u:pw5678@h/db")
        try:
            raise RuntimeError("dsn postgresql://u:pw5678@h/db refused")
        except RuntimeError:
            logger.exception("boom")
    finally:
        handler.removeFilter(handler.filters[-1])
    text = caplog.text
    assert "pw5678" not in text and "postgresql://u:***@h/db" in text
    assert "RuntimeError" in text
