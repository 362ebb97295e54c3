"""The dashboard shows a background worker that is down: the JSON route, and the banner
every page carries (in a real browser)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.serving.state import AppState
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.dashboard.browser import (
    artifacts_dir,
    browser_or_skip,
    console_errors,
    open_browser,
    wait_for,
)
from tests.serving.conftest import Trained, make_settings


async def test_workers_route_names_a_down_worker(client: httpx.AsyncClient) -> None:
    st: AppState = client.app.state.rampup  # type: ignore[attr-defined]
    body = (await client.get("/dashboard/api/workers")).json()
    assert body["down"] == {}
    assert "log-writer" in body["workers"]
    st.supervisor.workers["monitor"].inject(RuntimeError("disk on fire"))
    for _ in range(2000):
        body = (await client.get("/dashboard/api/workers")).json()
        if "monitor" in body["down"]:
            break
        await asyncio.sleep(0.01)
    assert "disk on fire" in body["down"]["monitor"]
    st.supervisor.workers["monitor"].inject(None)


def test_the_banner_shows_a_down_worker_on_every_page(tmp_path: Path, trained: Trained,
                                                      sqlite_store: Database) -> None:
    from selenium.webdriver.common.by import By

    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path, worker_restart_initial=0.2, worker_restart_max=0.5)
    Registry.from_settings(settings, sqlite_store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    app = create_app(settings, ProjectFile(), store=sqlite_store)
    server = BackgroundServer(app).start()
    driver = open_browser(browser, chromedriver)
    try:
        state: AppState = app.state.rampup
        for page in ("/", "/dashboard/models/credit"):
            driver.get(server.url + page)
            banner = driver.find_element(By.ID, "workers")
            wait_for(lambda: driver.find_element(By.ID, "live").text.startswith("live ·"),
                     what="the first refresh")
            assert not banner.is_displayed()
            state.supervisor.workers["log-writer"].inject(RuntimeError("injected fault"))
            wait_for(lambda b=banner: "log-writer" in (b.get_attribute("data-down") or ""),
                     timeout=30, what="the banner naming the worker")
            assert banner.is_displayed()
            assert "A background worker is down" in banner.text
            assert "injected fault" in banner.text
            if page == "/":
                driver.save_screenshot(str(artifacts_dir() / "worker-down.png"))
            state.supervisor.workers["log-writer"].inject(None)
            wait_for(lambda b=banner: not b.is_displayed(), timeout=30,
                     what="the banner gone once the worker is back")
        assert console_errors(driver) == []
    finally:
        driver.quit()
        server.stop()
