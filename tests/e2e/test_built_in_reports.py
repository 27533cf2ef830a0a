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


def test_headline_agrees_with_the_follow_up_section(tiny_project):
    """On the built-in data sales misses follow-up promises: the headline counts them as the
    follow-up section judges them, and every verdict cell is in its verdict's colour."""
    import json

    from leadscore.core.contract_report import KEPT, KEPT_WHERE_WORKED, NO_LEADS, NOT_KEPT
    from leadscore.views.report import status_class

    reports = tiny_project / "reports"
    html = (reports / "report.html").read_text()
    follow_up = json.loads((reports / "follow_up.json").read_text())
    verdicts = [item["verdict"] for items in follow_up["promises"].values() for item in items]
    judged = [v for v in verdicts if v != NO_LEADS]
    assert NOT_KEPT in judged  # the built-in data: sales misses its follow-up promises
    headline = re.search(r'<p class="verdict" id="headline">(.*?)</p>', html, re.S).group(1)
    said = re.search(r"Sales&#39; follow-up: (\d+) of (\d+) promises kept", headline)
    assert said, headline
    assert (int(said[1]), int(said[2])) == (judged.count(KEPT), len(judged))
    assert "Every other promise" not in headline
    summary = re.search(r'<table id="summary-follow-up">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r'<td class="(\w+)">([a-z ]+)</td>', summary) == [
        (status_class(v), v) for v in verdicts
    ]
    words = (KEPT, NOT_KEPT, KEPT_WHERE_WORKED, NO_LEADS)
    for css, word in re.findall(r'class="(\w+)"[^>]*>\s*(?:\w+: )?([a-z ]+?)\s*<', html):
        if word in words:
            assert css == status_class(word), (css, word)
    currency = json.loads((reports / "contract.json").read_text())["currency"]
    credit = re.search(r'<table id="summary-credit">(.*?)</table>', html, re.S).group(1)
    assert f"{currency} " in credit


def test_the_report_shows_the_nurture_view_when_the_feedback_stage_wrote_it(tiny_project, tmp_path):
    """`leadscore feedback --scoring-log` writes reports/nurture.json; the report shows it."""
    import json
    import shutil
    from datetime import datetime

    from leadscore.scoring.crossings import INTO_A, Crossing, Scoring, Touch
    from leadscore.stages.report import main as report
    from leadscore.views.nurture import nurture_report

    reports = shutil.copytree(tiny_project / "reports", tmp_path / "reports")
    moved = Crossing("L-7", INTO_A, Scoring("L-7", datetime(2026, 8, 2), 60, "B"),
                     Scoring("L-7", datetime(2026, 8, 5), 91, "A"),
                     [Touch("e1", datetime(2026, 8, 3), "demo_request")])  # fmt: skip
    view = nurture_report([moved], 7, datetime(2026, 8, 1), datetime(2026, 8, 8))
    (reports / "nurture.json").write_text(json.dumps(view))
    page = report(reports_dir=reports, card_path=tiny_project / "models" / "model_card.json")
    html = page.read_text()
    assert "Nurture: leads that crossed into or out of A in the last 7 days" in html
    row = re.search(r'<table id="nurture-crossings">(.*?)</table>', html, re.S).group(1)
    assert "L-7" in row and "B → A" in row and "demo_request" in row
    assert "Nurture:" not in (tiny_project / "reports" / "report.html").read_text()
