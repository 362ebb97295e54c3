"""The review page in headless Chromium against a real uvicorn server: the queue is
worked through with keyboard shortcuts and buttons, and an input carrying markup is
shown as text (never run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.dashboard.browser import (
    artifacts_dir,
    browser_or_skip,
    console_errors,
    open_browser,
    wait_for,
)
from tests.serving.conftest import Trained, make_settings, record

pytestmark = pytest.mark.slow
EVIL = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def live(tmp_path: Path, trained: Trained, sqlite_store: Database) -> Iterator[tuple[str, Any]]:
    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path)
    Registry.from_settings(settings, sqlite_store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    project = ProjectFile.model_validate({"models": {"credit": {"automation": {
        "level": "ai_assist", "labels": ["approve", "reject"]}}}})
    server = BackgroundServer(create_app(settings, project, store=sqlite_store)).start()
    driver = open_browser(browser, chromedriver)
    try:
        yield server.url, driver
    finally:
        driver.quit()
        server.stop()


def shown_id(driver: Any) -> str:
    item = driver.find_element("id", "item")
    return "" if item.get_attribute("hidden") else str(
        driver.find_element("id", "item-id").text)


def test_work_through_the_queue(live: tuple[str, Any], trained: Trained,
                                sqlite_store: Database) -> None:
    url, driver = live
    first = record(trained.frame, 0)
    first["city"] = EVIL
    with httpx.Client(base_url=url) as c:
        ids = []
        for rec in (first, record(trained.frame, 1), record(trained.frame, 2)):
            r = c.post("/v1/models/credit/predict", json=rec)
            assert r.status_code == 200, r.text
            ids.append(r.json()["predictions"][0]["review_id"])
    driver.get(f"{url}/review/credit")
    box = driver.find_element("id", "reviewer")
    box.send_keys("ana")
    driver.find_element("tag name", "h1").click()  # blur: the change event starts the queue
    wait_for(lambda: shown_id(driver) == ids[0], what="the first item")
    cells = driver.find_element("id", "inputs").text
    assert EVIL in cells  # the markup is shown as text
    assert driver.execute_script("return window.__xss === undefined")
    assert driver.find_elements("css selector", "#inputs img, #inputs script") == []
    assert driver.find_element("id", "suggestion-value").text in ("0", "1")
    labels = [b.text for b in driver.find_elements("css selector", "#labels button")]
    assert labels == ["1approve", "2reject", "3uncertain"]
    driver.save_screenshot(str(artifacts_dir() / "review_page.png"))
    body = driver.find_element("tag name", "body")
    body.send_keys("1")  # decide "approve" with the keyboard
    wait_for(lambda: shown_id(driver) == ids[1], what="the second item")
    body.send_keys("s")  # skip it
    wait_for(lambda: shown_id(driver) == ids[2], what="the third item")
    driver.find_elements("css selector", "#labels button")[1].click()  # "reject"
    wait_for(lambda: driver.find_element("id", "empty").is_displayed(), what="empty queue")
    assert [f.value for f in sqlite_store.feedback.list_feedback(ids[0])] == ["approve"]
    assert [f.value for f in sqlite_store.feedback.list_feedback(ids[2])] == ["reject"]
    assert sqlite_store.feedback.list_feedback(ids[1]) == []
    assert console_errors(driver) == []
