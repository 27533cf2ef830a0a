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


HOSTILE = ["s3cret/PW", "p/w#q'r?s@t:u", "it's#1?x", "a:b/c@d"]


def test_a_password_is_masked_whatever_characters_it_holds():
    for password in HOSTILE:
        url = f"postgresql+psycopg://scorer:{password}@db.internal:5432/leads?sslmode=require"
        for text in (url, f"cannot connect to {url}: refused", f"url='{url}'"):
            clean = redact(text)
            assert password not in clean, text
            assert "postgresql+psycopg://scorer:***@db.internal:5432/leads?sslmode=require" in clean
    assert redact("postgresql+psycopg://u:s3cret/PW@h/db") == "postgresql+psycopg://u:***@h/db"


def test_query_string_passwords_are_masked_and_other_parameters_kept():
    url = (
        "postgresql+psycopg://scorer@h/db?sslmode=require&password=s3c/r#t'x"
        "&sslpassword=k3y&application_name=leadscore&client_secret=abcd&token=t0k"
    )
    assert redact(url) == (
        "postgresql+psycopg://scorer@h/db?sslmode=require&password=***"
        "&sslpassword=***&application_name=leadscore&client_secret=***&token=***"
    )
    assert redact("https://u:pa%2Fss@h/x?token=abc#frag") == "https://u:***@h/x?token=***#frag"


def test_two_urls_in_one_word_and_key_value_strings():
    assert redact("a=postgresql://u:p1/x@h/db,b=mysql://x:y2#z@h/d") == (
        "a=postgresql://u:***@h/db,b=mysql://x:***@h/d"
    )
    assert redact("host=db password='it''s a / secret' user=x") == "host=db password=*** user=x"
    assert "s3c/r#t" not in redact('{"password": "s3c/r#t", "port": 5432}')
    assert redact("PGPASSWORD=abc/d#e then") == "PGPASSWORD=*** then"


def test_url_secrets_names_what_to_register():
    from leadscore.core.redact import url_secrets

    assert url_secrets("postgresql://u:a/b#c@h/db?password=zz&sslmode=x") == ["a/b#c", "zz"]
    assert url_secrets("sqlite:///data/log.db") == []


def test_a_record_of_ours_never_reaches_the_last_resort_handler(tmp_path):
    """With no handler configured, install_log_redaction gives the root logger a redacting
    one: Python's last-resort handler (which no filter sees) is never used."""
    import subprocess
    import sys

    script = (
        "import logging\n"
        "from leadscore.core.redact import install_log_redaction\n"
        "install_log_redaction()\n"
        "logging.getLogger('leadscore.scoring.log').warning("
        "'cannot reach %s', \"postgresql://u:s3cret/PW#'x@h/db\")\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stderr and "postgresql://u:***@h/db" in done.stderr
