"""Headless Chromium through Selenium, for the tests and the screenshot script.

Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them when missing); the
driver's path is given, so Selenium Manager never looks for (or downloads) a browser or driver,
and SE_OFFLINE keeps it from trying. Each browser gets a fresh profile in a temporary folder and
starts with the switches that keep Chromium from calling home.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SWITCHES = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run")


def missing() -> str | None:
    """What is missing to run a browser here, or None."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if absent:
        return (f"{' and '.join(absent)} not installed (Debian: apt-get install -y chromium "
                "chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[test]')"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A headless Chromium driven by Selenium (a `selenium.webdriver.Chrome`)."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="rulesync-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for switch in (*SWITCHES, f"--user-data-dir={profile}",
                       f"--window-size={width},{height}"):
            options.add_argument(switch)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
