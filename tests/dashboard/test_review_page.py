"""The reviewers' page in Chromium: styled like the dashboard (its stylesheet and header),
the labels named from the model's ``output_labels``, and a link back to the model's
dashboard page."""

from __future__ import annotations

from pathlib import Path

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


def test_review_page_names_labels_and_leads_back(tmp_path: Path, trained: Trained,
                                                 sqlite_store: Database) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.5)
    Registry.from_settings(settings, sqlite_store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    project = ProjectFile.model_validate({"models": {"credit": {
        "output_labels": {"0": "repays", "1": "defaults"},
        "automation": {"level": "partial", "threshold": 0.999, "labels": [0, 1]}}}})
    server = BackgroundServer(create_app(settings, project, store=sqlite_store)).start()
    d = open_browser(browser, chromedriver)
    try:
        with httpx.Client(base_url=server.url) as c:
            pending = 0
            for i in range(10):
                r = c.post("/v1/models/credit/predict", json=record(trained.frame, i))
                assert r.status_code == 200, r.text
                pending += r.json()["predictions"][0].get("status") == "pending_review"
            assert pending > 0
        d.get(server.url + "/review/credit")
        top = d.find_element(By.CSS_SELECTOR, "header.top")
        assert top.value_of_css_property("position") == "sticky"  # the dashboard's sheet
        assert d.find_element(By.CSS_SELECTOR, ".brand").text == "rampup"
        back = d.find_element(By.ID, "back")
        assert back.get_attribute("href") == server.url + "/dashboard/models/credit"
        box = d.find_element(By.ID, "reviewer")
        box.send_keys("ada", Keys.TAB)
        buttons = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#labels button.label"),
                           what="the label buttons")
        names = {b.get_attribute("data-name") for b in buttons}
        assert {"repays", "defaults"} <= names
        texts = " ".join(b.text for b in buttons)
        assert "repays" in texts
        assert "defaults" in texts
        suggestion = d.find_element(By.ID, "suggestion-value").text
        assert "repays" in suggestion or "defaults" in suggestion
        d.save_screenshot(str(artifacts_dir() / "review.png"))
        assert console_errors(d) == []
        back.click()
        wait_for(lambda: d.find_element(By.ID, "model-name").text == "credit",
                 what="the model's dashboard page")
    finally:
        d.quit()
        server.stop()
