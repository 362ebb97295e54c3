"""The dashboard in headless Chromium against a real uvicorn server with traffic flowing:
charts have data, the rollback button changes the deployment, untrusted text stays text.

Screenshots are kept under the directory printed by each test (see ``browser.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.dashboard.browser import (
    Traffic,
    artifacts_dir,
    browser_or_skip,
    chart_points,
    click,
    console_errors,
    open_browser,
    wait_for,
)
from tests.serving.conftest import ADMIN, Trained, fit, make_settings

pytestmark = pytest.mark.slow
AUTH = {"authorization": f"Bearer {ADMIN}"}
EVIL = '<img src=x onerror="window.__xss=1">'


@dataclass
class Live:
    url: str
    driver: Any
    shots: Path
    trained: Trained


@pytest.fixture
def live(tmp_path: Path, trained: Trained, sqlite_store: Database) -> Iterator[Live]:
    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.5)
    reg = Registry.from_settings(settings, sqlite_store)
    reg.register("credit", trained.model_path, reference=trained.reference_path,
                 label_column="y")
    reg.register("credit", trained.model2_path, version="v2",
                 reference=trained.reference_path, label_column="y", deploy=False)
    project = ProjectFile.model_validate({"models": {"credit": {
        "description": "loan default", "slo": {"latency_p99_ms": 250, "max_error_rate": 0.05}}}})
    server = BackgroundServer(create_app(settings, project, store=sqlite_store)).start()
    driver = open_browser(browser, chromedriver)
    shots = artifacts_dir()
    print(f"\nscreenshots: {shots}")
    try:
        yield Live(server.url, driver, shots, trained)
    finally:
        driver.quit()
        server.stop()


def set_token(driver: Any, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "token-save").click()


def test_overview_and_model_page_with_traffic_and_rollback(live: Live) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = live.driver
    with Traffic(live.url, "credit", live.trained.frame), httpx.Client(base_url=live.url) as c:
        wait_for(lambda: c.get("/dashboard/api/overview").json()["models"][0]["values"]
                 ["requests"], what="traffic in the monitor")
        r = c.post("/v1/admin/models/credit/deploy", headers=AUTH,
                   json={"version": "v2", "strategy": "canary", "reason": "try v2"})
        assert r.status_code == 201, r.text
        r = c.post("/v1/admin/models/credit/alerts", headers=AUTH,
                   json={"name": "slow", "condition": "latency_p99 > 5000"})
        assert r.status_code == 201, r.text

        d.get(live.url + "/")
        card = wait_for(lambda: d.find_element(By.CSS_SELECTOR, '.card[data-model="credit"]'),
                        what="the model card")
        wait_for(lambda: chart_points(d, "spark-credit") > 0, what="the sparkline")
        assert "canary v2" in card.text
        d.save_screenshot(str(live.shots / "overview.png"))

        card.find_element(By.LINK_TEXT, "credit").click()
        wait_for(lambda: d.find_element(By.ID, "model-name").text == "credit", what="model page")
        for chart in ("chart-throughput", "chart-latency_p99", "chart-server_error_rate",
                      "chart-missing-score", "chart-class-share", "chart-confidence"):
            wait_for(lambda chart=chart: chart_points(d, chart) > 0, what=f"{chart} data")
        assert int(d.find_element(By.ID, "chart-latency_p99").get_attribute("data-series")) >= 1
        wait_for(lambda: chart_points(d, "chart-accuracy") > 0, what="accuracy once labelled")
        heat = d.find_element(By.ID, "heatmap")
        assert heat.get_attribute("data-features") == "4"
        cell = wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#heatmap button.cell:not(.empty)"),
                        what="a heat-map cell with data")
        click(d, cell)
        wait_for(lambda: int(d.find_element(By.ID, "histogram-rows")
                             .get_attribute("data-bins")) > 1, what="histograms")

        link = wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#alarm-rules a"),
                        what="the alarm's metric link")
        assert link.text == "latency_p99"
        click(d, link)
        wait_for(lambda: chart_points(d, "chart-explore") > 0, what="the alarm's metric chart")

        Select(d.find_element(By.ID, "range")).select_by_value("15m")
        wait_for(lambda: d.find_element(By.TAG_NAME, "body").get_attribute("data-range")
                 == "15m" and chart_points(d, "chart-throughput") > 0,
                 what="charts redrawn for the new range")
        assert d.execute_script(
            "return document.querySelectorAll('#chart-throughput .uplot').length") == 1

        rollback = d.find_element(By.CSS_SELECTOR, 'button[data-action="rollback"]')
        assert not rollback.is_enabled()  # no token yet
        set_token(d, ADMIN)
        wait_for(lambda: rollback.is_enabled(), what="the rollback button")
        before = d.find_element(By.ID, "split").get_attribute("data-deployment")
        assert "v2" in d.find_element(By.ID, "split").text
        d.save_screenshot(str(live.shots / "model-before-rollback.png"))
        click(d, rollback)
        wait_for(lambda: d.find_element(By.ID, "split").get_attribute("data-deployment")
                 != before, what="a new deployment")
        wait_for(lambda: "rolled_back" in d.find_element(By.ID, "rollout").text,
                 what="the rollout shown as rolled back")
        assert d.find_element(By.ID, "split").get_attribute("data-primary") == "v1"
        assert "v2" not in d.find_element(By.ID, "split").text
        assert "dashboard" in d.find_element(By.ID, "timeline").text
        review = wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#review .panel-body"),
                          what="the review panel")
        assert review.get_attribute("data-queue") == "0"
        wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#retrain .panel-body"),
                 what="the retraining panel (admin)")
        policy = c.get("/v1/models/credit").json()["policy"]
        assert policy["routes"] == {"v1": 100.0}
        d.set_window_size(1400, 4200)
        d.save_screenshot(str(live.shots / "model-after-rollback.png"))
    assert console_errors(d) == []


def test_untrusted_text_is_shown_as_text(live: Live, tmp_path: Path) -> None:
    """A category value, a deployment reason and an actor carrying markup are rendered as
    text: no element is created and no script runs."""
    from selenium.webdriver.common.by import By

    frame = live.trained.frame.copy()
    frame.loc[frame.index % 3 == 0, "city"] = EVIL
    joblib.dump(fit(frame, 1.0), tmp_path / "evil.joblib")
    frame.to_parquet(tmp_path / "evil.parquet", index=False)
    d = live.driver
    with httpx.Client(base_url=live.url, headers=AUTH) as c:
        r = c.post("/v1/admin/models/evil/versions", json={
            "path": str(tmp_path / "evil.joblib"), "reference": str(tmp_path / "evil.parquet"),
            "label_column": "y"})
        assert r.status_code == 201, r.text
        r = c.put("/v1/admin/models/evil/deployment", headers={"x-rampup-actor": EVIL},
                  json={"routes": {"v1": 100}, "reason": EVIL})
        assert r.status_code == 200, r.text
        with Traffic(live.url, "evil", frame):
            wait_for(lambda: c.get("/dashboard/api/models/evil/drift/city",
                                   params={"since": "-5m"}).json()["current_count"] > 40,
                     what="evil traffic")
            d.get(live.url + "/dashboard/models/evil")
            wait_for(lambda: EVIL in d.find_element(By.ID, "timeline").text,
                     what="the reason as text")
            cell = wait_for(lambda: d.find_element(
                By.CSS_SELECTOR, '#heatmap button.cell[data-feature="city"]:not(.empty)'),
                what="a city cell")
            click(d, cell)
            wait_for(lambda: EVIL in d.find_element(By.ID, "histogram").text,
                     what="the category as text")
    d.save_screenshot(str(live.shots / "xss.png"))
    assert d.execute_script("return window.__xss === undefined")
    assert d.execute_script("return document.querySelectorAll('img').length") == 0
    assert console_errors(d) == []


def test_pipeline_stages_side_by_side(tmp_path: Path, sqlite_store: Database) -> None:
    from selenium.webdriver.common.by import By

    from tests.serving.pipeline_app import project, register, speech

    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.5)
    register(sqlite_store, settings)
    server = BackgroundServer(create_app(settings, project(), store=sqlite_store)).start()
    d = open_browser(browser, chromedriver)
    try:
        with httpx.Client(base_url=server.url) as c:
            for i in range(20):
                r = c.post("/v1/models/transcribe/predict", json=speech(0.95 - i * 0.02))
                assert r.status_code == 200, r.text
        d.get(server.url + "/dashboard/models/transcribe")
        body = wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#pipeline .panel-body"),
                        what="the pipeline panel")
        assert body.get_attribute("data-stages") == "2"
        names = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#pipeline .stage h3")]
        assert names == ["1. vad", "2. asr"]
        click(d, d.find_element(By.CSS_SELECTOR, 'a[href="#pipeline"]'))
        d.save_screenshot(str(artifacts_dir() / "pipeline.png"))
        assert console_errors(d) == []
    finally:
        d.quit()
        server.stop()
