"""`dvc plots show` in a real browser with no network: Debian's Chromium, headless, on the
tiny project's plots page. Every chart is drawn (static images, no Vega from a CDN), the
importance chart names each field, and no chart is blank.
Set LEADSCORE_SCREENSHOT=docs/dvc-plots.png to write the screenshot of the page.
"""

from __future__ import annotations

import os

import pytest
from browser import chromium
from conftest import DVC, project_env, run
from selenium.webdriver.common.by import By

pytestmark = [pytest.mark.browser]

OFFLINE_FLAGS = (
    "--allow-file-access-from-files",
    # no network: every http(s) request goes to a closed port (file:// is not proxied)
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
CHARTS = ("roc.png", "precision_recall.png", "calibration.png", "gain.png",
          "importance.png", "segments.png")  # fmt: skip


@pytest.fixture
def offline_browser():
    with chromium(*OFFLINE_FLAGS) as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        yield driver


def test_every_plot_renders_offline_and_names_each_field(tiny_project, tmp_path, offline_browser):
    out = tmp_path / "plots"
    run([DVC, "plots", "show", "-o", str(out)], tiny_project, project_env(tiny_project))
    driver = offline_browser
    driver.get((out / "index.html").as_uri())
    images = driver.find_elements(By.TAG_NAME, "img")
    drawn = driver.execute_script(
        "return Array.from(document.images)"
        ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
    )
    for chart in CHARTS:  # each chart is on the page and drawn
        assert any(src.endswith(chart) and ok for src, ok in drawn), (chart, drawn)
    assert all(ok for _, ok in drawn), drawn
    assert len(images) >= len(CHARTS)
    assert not driver.find_elements(By.CSS_SELECTOR, ".vega-embed")  # nothing left to Vega
    assert "undefined" not in driver.find_element(By.TAG_NAME, "body").text
    if os.environ.get("LEADSCORE_SCREENSHOT"):
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height, 4000))
        driver.save_screenshot(os.environ["LEADSCORE_SCREENSHOT"])


def test_the_importance_chart_names_each_field(tiny_project):
    """The chart is drawn from importance.csv's `field` column: one labelled bar per field."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from leadscore.analysis.importance import importance_figure

    table = pd.read_csv(tiny_project / "reports" / "importance.csv")
    figure = importance_figure(table)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(table["field"].head(15)) and "undefined" not in labels
    assert "AUC points" in figure.axes[0].get_xlabel()
    widths = sorted(bar.get_width() for bar in figure.axes[0].patches)
    assert widths[-1] == pytest.approx(table["permutation_auc_mean"].max() * 100)  # in points
