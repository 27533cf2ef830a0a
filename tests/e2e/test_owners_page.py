"""The owners' page in a real browser: Debian's Chromium, headless, driven by selenium through
Debian's chromedriver, against the page's own entry point (`python -m leadscore_serve.owners`,
uvicorn) on a small project copy. Each owner approves with a private key that only the browser
sees; one owner alone never makes a proposal agreed.

`make test-browser` installs the two Debian packages when they are missing and runs this file
(`pytest -m browser`). Set LEADSCORE_SCREENSHOT=docs/owners-page.png to write the screenshot of
the page with the open proposal and its preview.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from browser import chromium
from conftest import free_port
from owners_project import CHANGED_KEY, make_owners_project
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from leadscore.core import keys

pytestmark = [pytest.mark.browser, pytest.mark.server]

WAIT_SECONDS = 30  # how long to wait for the page to change: a bound, not a measurement


@pytest.fixture
def owners_server(tmp_path):
    """`python -m leadscore_serve.owners` on a free loopback port, over a small project."""
    project = make_owners_project(tmp_path / "project")
    port = free_port()
    log_path = tmp_path / "owners.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "leadscore_serve.owners",
                "--root",
                str(project.root),
                "--port",
                str(port),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log_path)
        yield project, url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"the owners' page exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/api/status", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    raise AssertionError(f"the owners' page did not start:\n{log_path.read_text()}")


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def text_of(driver, element_id: str) -> str:
    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def wait_for_text(driver, element_id: str, expected: str) -> str:
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: expected in text_of(d, element_id))
    return text_of(driver, element_id)


def approve(driver, role: str, pem: str | None = None, key_file: Path | None = None) -> None:
    if pem is not None:
        driver.find_element(By.ID, f"key-{role}").send_keys(pem)
    if key_file is not None:
        driver.find_element(By.ID, f"keyfile-{role}").send_keys(str(key_file))
    driver.find_element(By.ID, f"approve-button-{role}").click()


def save_screenshot(driver, path: str) -> None:
    """The whole page, at its full height."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, height)
    driver.execute_script("window.scrollTo(0, 0)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(target)), path
    driver.set_window_size(1280, 1600)


def test_each_owner_approves_in_the_browser_and_the_agreed_version_changes(
    owners_server, browser, tmp_path
):
    project, url = owners_server
    contract_before = (project.root / "contract.yaml").read_bytes()
    browser.get(url + "/")
    assert "approved by neither owner" in text_of(browser, "proposal-status")
    assert CHANGED_KEY in text_of(browser, "changes")
    assert "B then converts at 22.2 %" in text_of(browser, "preview-status")
    preview = text_of(browser, "preview-grades")
    assert "659.0" in preview and "852.4" in preview  # A leads a month, agreed and proposed

    # a wrong key is refused with the reason, and nothing is recorded: the marketing owner's
    # key pasted for sales, then a key of no owner chosen as a file
    approve(browser, "sales", pem=project.private_pem("marketing"))
    refused = wait_for_text(browser, "result-sales", "Refused")
    assert "signed with another key" in refused and "the marketing owner's key" in refused
    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(keys.private_pem(keys.new_private_key()))
    approve(browser, "sales", key_file=stranger)
    refused = wait_for_text(browser, "result-sales", "not the sales owner's")
    assert "signed with another key" in refused and "marketing owner's key" not in refused
    assert len(project.files.approvals()) == 2  # the first version's two
    assert "approved by neither owner" in text_of(browser, "proposal-status")

    # one owner alone: recorded, still a proposal, contract.yaml untouched
    approve(browser, "sales", pem=project.private_pem("sales"))
    status = wait_for_text(browser, "proposal-status", "approved so far by Dana Reyes, VP Sales")
    assert "PROPOSAL: not agreed" in status
    assert "Approved on" in text_of(browser, "approved-sales")
    assert (project.root / "contract.yaml").read_bytes() == contract_before
    assert text_of(browser, "agreed-version") == "2026.11-1"
    assert len(project.files.approvals()) == 3
    if os.environ.get("LEADSCORE_SCREENSHOT"):
        save_screenshot(browser, os.environ["LEADSCORE_SCREENSHOT"])

    # the second owner, with the key chosen as a file: the proposal becomes the agreed version
    marketing_key = tmp_path / "marketing.key"
    marketing_key.write_text(project.private_pem("marketing"))
    approve(browser, "marketing", key_file=marketing_key)
    wait_for_text(browser, "proposal", "No open proposal")
    contract = yaml.safe_load((project.root / "contract.yaml").read_text())["contract"]
    agreed = text_of(browser, "agreed-status")
    assert agreed.startswith(f"Contract {contract['version']}, agreed by Dana Reyes, VP Sales")
    assert "and Sam Okafor, VP Marketing on " in agreed
    assert "2026-11-02" not in agreed  # the day the second owner approved, today

    assert contract["grades"]["A"]["max_leads_per_month"] == 900
    assert contract["version"] != "2026.11-1"
    assert text_of(browser, "agreed-version") == contract["version"]
    history = project.files.history()
    assert [v["version"] for v in history] == ["2026.11-1", contract["version"]]
    assert history[1]["changes"] == [{"key": CHANGED_KEY, "from": 700, "to": 900}]
    before = contract_before.decode().splitlines()
    after = (project.root / "contract.yaml").read_text().splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ('  version: "2026.11-1"', f'  version: "{contract["version"]}"'),
        ("      max_leads_per_month: 700", "      max_leads_per_month: 900"),
    ]
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert all(name.startswith(url) for name in loaded), loaded
