"""/docs and /redoc need no internet: every script, style sheet and icon they reference is
served by the service itself (from the installed fastapi-offline package)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

pytestmark = pytest.mark.server
REFERENCE = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|(?:url|Url)\s*:\s*["']([^"']+)["']"""
)
TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.mark.parametrize(("page", "expected"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
def test_docs_pages_load_everything_from_the_service(served, page, expected):
    client = served[0].client
    answer = client.get(page)
    assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
    html = answer.text
    assert "cdn." not in html and "fonts.googleapis" not in html
    references = {a or b for a, b in REFERENCE.findall(html)}
    assets = {ref for ref in references if ref.startswith("/")}
    assert {ref for ref in references if "://" in ref} == set(), references
    assert any(expected in ref for ref in assets), assets
    assert "/openapi.json" in assets
    for ref in sorted(assets):
        fetched = client.get(urljoin(f"{served[0].url}{page}", ref))
        assert fetched.status_code == 200, ref
        kind = next(kind for suffix, kind in TYPES.items() if ref.endswith(suffix))
        assert kind in fetched.headers["content-type"], (ref, fetched.headers["content-type"])
        assert len(fetched.content) > 100, ref
