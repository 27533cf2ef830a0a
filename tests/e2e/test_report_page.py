"""report.html in headless Chromium at 1,280 x 1,000: the first screen shows both sides' verdicts,
the credit with its currency and the next actions; no table is wider than the page.

`make test-browser` runs it. Set LEADSCORE_REPORT_SCREENSHOT=docs/report-first-screen.png to write
the screenshot of the first screen (docs/contract.md shows it).
"""

from __future__ import annotations

import os

import pytest
from browser import chromium

pytestmark = [pytest.mark.browser]

WIDTH, HEIGHT = 1280, 1000
EXTRA_FLAGS = ("--hide-scrollbars",)


@pytest.fixture
def browser():
    with chromium(*EXTRA_FLAGS) as driver:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver


def bottom(driver, selector: str) -> float:
    return driver.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().bottom", selector
    )


def test_first_screen_answers_both_sides(tiny_project, browser):
    browser.get((tiny_project / "reports" / "report.html").as_uri())
    for part in ("#headline", "#summary-grades", "#summary-follow-up", "#summary-credit",
                 "#next-actions"):  # fmt: skip
        assert bottom(browser, part) <= HEIGHT, part
    first_screen = browser.execute_script("return document.getElementById('summary').innerText")
    assert "Sales' follow-up" in first_screen and "Marketing's grades" in first_screen
    assert "USD " in first_screen
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= WIDTH
    rights = browser.execute_script(
        "return Array.from(document.querySelectorAll('table'))"
        ".map(t => t.getBoundingClientRect().right)"
    )
    assert rights and max(rights) <= WIDTH
    screenshot = os.environ.get("LEADSCORE_REPORT_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)
