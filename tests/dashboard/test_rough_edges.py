"""The dashboard's rough edges, in headless Chromium against a real server: charts stay
inside their cards (also after the window narrows), the sparkline follows the range
picker, client errors (4xx) are shown apart and do not make a model unhealthy, the
retraining panel is there without a token (its action is not), and models that serve
as pipeline stages show that traffic while the pipeline's card shows its stages."""

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
    chart_points,
    console_errors,
    open_browser,
    wait_for,
)
from tests.serving.conftest import ADMIN, Trained, make_settings, record

pytestmark = pytest.mark.slow

#: every chart's canvas and legend inside its card or panel (1 px of rounding allowed)
SPILLS = """
const out = [];
for (const chart of document.querySelectorAll('.chart')) {
  const box = chart.closest('.card, .panel, .stage');
  if (!box || !chart.querySelector('canvas')) continue;
  const b = box.getBoundingClientRect();
  for (const part of chart.querySelectorAll('canvas, .u-legend, .uplot')) {
    const r = part.getBoundingClientRect();
    if (r.width && (r.left < b.left - 1 || r.right > b.right + 1
                    || r.top < b.top - 1 || r.bottom > b.bottom + 1)) {
      out.push(chart.id + ' ' + part.className + ' ' + JSON.stringify([r.left, r.right,
               r.top, r.bottom].map(Math.round)) + ' outside ' + JSON.stringify([b.left,
               b.right, b.top, b.bottom].map(Math.round)));
    }
  }
}
return out;
"""


def spills(driver: Any) -> list[str]:
    return list(driver.execute_script(SPILLS))


@pytest.fixture
def server(tmp_path: Path, trained: Trained, sqlite_store: Database) -> Iterator[str]:
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.5)
    Registry.from_settings(settings, sqlite_store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    project = ProjectFile.model_validate({"models": {"credit": {
        "slo": {"latency_p99_ms": 60_000, "max_error_rate": 0.05}}}})
    srv = BackgroundServer(create_app(settings, project, store=sqlite_store)).start()
    try:
        yield srv.url
    finally:
        srv.stop()


def test_cards_charts_range_client_errors_and_retraining(server: str,
                                                         trained: Trained) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser, chromedriver = browser_or_skip()
    d = open_browser(browser, chromedriver)
    shots = artifacts_dir()
    try:
        with httpx.Client(base_url=server) as c:
            for _ in range(2):  # a client's bad requests: 422, its fault, not the model's
                r = c.post("/v1/models/credit/predict", json={"age": "old"})
                assert r.status_code == 422, r.text
            for i in range(2):
                r = c.post("/v1/models/credit/predict", json=record(trained.frame, i))
                assert r.status_code == 200, r.text
            wait_for(lambda: c.get("/dashboard/api/overview").json()["models"][0]["values"]
                     ["requests"] == 4, what="four requests in the monitor")
            overview = c.get("/dashboard/api/overview").json()["models"][0]
            assert overview["values"]["client_error_rate"] == pytest.approx(0.5)
            assert overview["values"]["server_error_rate"] == 0
            assert overview["health"] == "ok"

        d.get(server + "/")
        card = wait_for(lambda: d.find_element(By.CSS_SELECTOR, '.card[data-model="credit"]'),
                        what="the model card")
        wait_for(lambda: chart_points(d, "spark-credit") > 0, what="the sparkline")
        assert card.get_attribute("data-health") == "ok"
        assert card.find_element(By.CSS_SELECTOR, "dd.client-errors").text == "50.0%"
        assert card.find_element(By.CSS_SELECTOR, "dd.server-errors").text == "0.00%"
        assert "healthy" in card.text
        title = d.find_element(By.CSS_SELECTOR, "#spark-credit .chart-title")
        assert title.text == "requests/s, last hour"
        Select(d.find_element(By.ID, "range")).select_by_value("6h")
        wait_for(lambda: d.find_element(By.ID, "spark-credit").find_element(
            By.XPATH, "..").get_attribute("data-range") == "6h", what="a 6 h sparkline")
        assert d.find_element(By.CSS_SELECTOR, "#spark-credit .chart-title").text \
            == "requests/s, last 6 hours"
        assert spills(d) == []
        d.set_window_size(520, 1000)  # one narrow column: every chart must shrink with it
        wait_for(lambda: spills(d) == [], what="charts inside their cards at 520 px")
        assert d.execute_script(  # nor does the header push the page sideways
            "return document.documentElement.scrollWidth <= window.innerWidth")
        d.save_screenshot(str(shots / "overview-narrow.png"))
        d.set_window_size(1400, 1000)

        d.get(server + "/dashboard/models/credit")
        wait_for(lambda: chart_points(d, "chart-client_error_rate") > 0,
                 what="the client errors chart")
        wait_for(lambda: chart_points(d, "chart-throughput") > 0, what="the throughput chart")
        assert chart_points(d, "chart-server_error_rate") > 0  # zeros: drawn, not missing
        panel = wait_for(lambda: d.find_element(By.CSS_SELECTOR, "#retrain .panel-body"),
                         what="the retraining panel without a token")
        assert panel.get_attribute("data-runs") == "0"
        button = d.find_element(By.ID, "retrain-start")
        assert not button.is_enabled()
        assert d.find_element(By.ID, "retrain-hint").is_displayed()
        for width in (1400, 900, 480):
            d.set_window_size(width, 1000)
            wait_for(lambda: spills(d) == [], what=f"model page charts inside at {width} px")
        d.save_screenshot(str(shots / "model-narrow.png"))
        d.set_window_size(1400, 1000)
        d.find_element(By.ID, "token").send_keys(ADMIN)
        d.find_element(By.ID, "token-save").click()
        wait_for(lambda: d.find_element(By.ID, "retrain-start").is_enabled(),
                 what="the retrain button with the admin token")
        assert not d.find_element(By.ID, "retrain-hint").is_displayed()
        assert console_errors(d) == []
    finally:
        d.quit()


def test_pipeline_and_its_stage_models_on_the_overview(tmp_path: Path,
                                                       sqlite_store: Database) -> None:
    from selenium.webdriver.common.by import By

    from tests.serving.pipeline_app import project, register, speech

    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.5)
    register(sqlite_store, settings)
    srv = BackgroundServer(create_app(settings, project(), store=sqlite_store)).start()
    d = open_browser(browser, chromedriver)
    try:
        with httpx.Client(base_url=srv.url) as c:
            for i in range(12):
                r = c.post("/v1/models/transcribe/predict", json=speech(0.95 - i * 0.02))
                assert r.status_code == 200, r.text
        d.get(srv.url + "/")

        def card(name: str) -> Any:
            return d.find_element(By.CSS_SELECTOR, f'.card[data-model="{name}"]')

        wait_for(lambda: card("vad").find_elements(By.CSS_SELECTOR, ".as-stage"),
                 what="vad's stage traffic")
        pipe = card("transcribe")
        assert "not deployed" not in pipe.text
        stages = pipe.find_element(By.CSS_SELECTOR, ".pipeline-stages")
        assert stages.get_attribute("data-stages") == "2"
        assert "vad → asr" in stages.text
        for name in ("vad", "asr"):
            box = card(name)
            assert box.get_attribute("data-health") == "ok", name
            line = box.find_element(By.CSS_SELECTOR, ".as-stage")
            assert line.get_attribute("data-pipeline") == "transcribe"
            assert "req/s as stage" in line.text
            assert "no traffic" not in box.text
        wait_for(lambda: chart_points(d, "spark-vad") > 0, what="vad's stage sparkline")
        d.save_screenshot(str(artifacts_dir() / "overview-pipeline.png"))
        assert console_errors(d) == []
    finally:
        d.quit()
        srv.stop()
