"""Debian's headless Chromium for the browser tests (`make test-browser`): one way to start it.

Never a browser downloaded at run time: /usr/bin/chromium and /usr/bin/chromedriver, which
`make test-browser` installs with apt-get when they are missing. The flags keep Chromium off the
network (no background requests, updates or sync) and working as root in a container.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    "--window-size=1280,1600",
)


@contextmanager
def chromium(*extra_flags: str) -> Iterator[webdriver.Chrome]:
    """A headless Chromium driven through chromedriver, quit on exit."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *extra_flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
