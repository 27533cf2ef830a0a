"""The built-in run's reports (the tiny project, reproduced by `dvc repro`): the funnel command
answers a revenue target from them, and the HTML report stands on its own."""

from __future__ import annotations

import re

from typer.testing import CliRunner


def test_funnel_cli_answers_a_revenue_target(tiny_project):
    import os

    from leadscore.cli import app

    cwd = os.getcwd()
    os.chdir(tiny_project)
    try:
        result = CliRunner().invoke(
            app, ["funnel", "--revenue-target", "1000000", "--response-rate", "0.05", "--no-write"]
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert "1,000,000" in result.output
    assert re.search(r"[\d,]+ deals", result.output)
    assert "reach" in result.output


def test_report_is_self_contained(tiny_project):
    html = (tiny_project / "reports" / "report.html").read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    images = re.findall(r"<img[^>]*src=\"([^\"]+)\"", html)
    assert len(images) >= 2 and all(src.startswith("data:image/png;base64,") for src in images)
    for section in ("promises and the verdicts", "Channel economics", "profile", "Month by month"):
        assert section in html
