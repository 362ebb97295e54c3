"""Headless Chromium (Debian ``chromium`` + ``chromium-driver``) driven by Selenium, a real
uvicorn server with traffic flowing, and where screenshots go.

Missing Chromium skips the browser tests locally and fails them when ``CI=true``.
Screenshots go to ``$RAMPUP_TEST_ARTIFACTS/dashboard`` (default
``build/test-artifacts/dashboard``, ignored by git).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import IN_CI
from tests.serving.conftest import record

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)
ROOT = Path(__file__).resolve().parents[2]


def _which(names: tuple[str, ...]) -> str | None:
    for n in names:
        path = shutil.which(n) or (f"/usr/bin/{n}" if Path(f"/usr/bin/{n}").exists() else None)
        if path:
            return path
    return None


def browser_or_skip() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skip (or fail in CI) when missing."""
    browser, driver = _which(CHROMIUM), _which(DRIVER)
    problem = None
    if browser is None or driver is None:
        problem = "chromium and chromium-driver are not installed"
    else:
        try:
            import selenium  # noqa: F401
        except ImportError:
            problem = "selenium is not installed (pip install -e '.[dev]')"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}: apt-get install -y chromium chromium-driver",
                        pytrace=False)
        pytest.skip(f"{problem}; set CI=true to make this fail")
    assert browser is not None
    assert driver is not None
    return browser, driver


def artifacts_dir() -> Path:
    base = Path(os.environ.get("RAMPUP_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    out = base / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    return out


def open_browser(browser: str, driver: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def requested_urls(driver: Any) -> dict[str, str | None]:
    """Every URL the page asked for since the last call (Chrome's network log), each with
    the reason Chrome refused to send it (``"csp"``, ...) or None when it went out."""
    import json

    urls: dict[str, str] = {}
    blocked: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason"):
            blocked[params["requestId"]] = params["blockedReason"]
    return {url: blocked.get(rid) for rid, url in urls.items()}


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # the element may not exist yet
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Traffic:
    """Predictions (and labels for every other one) sent from a thread until stopped."""

    def __init__(self, url: str, model: str, frame: pd.DataFrame, rate: float = 25.0) -> None:
        self.url, self.model, self.frame, self.rate = url, model, frame, rate
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10.0) as c:
            i = 0
            while not self._stop.is_set():
                row = i % len(self.frame)
                r = c.post(f"/v1/models/{self.model}/predict", json=record(self.frame, row),
                           headers={"x-request-key": f"u{i % 11}"})
                if r.status_code == 200 and i % 2 == 0:
                    c.post(f"/v1/models/{self.model}/feedback", json={
                        "request_id": r.json()["request_id"],
                        "label": int(self.frame["y"].iloc[row])})
                self.sent += 1
                i += 1
                self._stop.wait(1.0 / self.rate)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10.0)


def console_errors(driver: Any) -> list[str]:
    """SEVERE browser console entries (JS errors, failed requests), favicon aside."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]]


def chart_points(driver: Any, chart_id: str) -> int:
    return int(driver.execute_script(
        "const b = document.getElementById(arguments[0]);"
        "return b && b.querySelector('canvas') ? Number(b.dataset.points) : 0;", chart_id))



def click(driver: Any, element: Any) -> None:
    """Scroll the element to the middle of the window (clear of the sticky header), click."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()
