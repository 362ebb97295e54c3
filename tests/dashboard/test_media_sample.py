"""The dashboard's stage inputs on a pipeline with audio: the stage's audio metrics with
its reference, a sample of a window's inputs when the server keeps input bytes and no
privacy rule protects them, audio players in headless Chromium."""

from __future__ import annotations

import base64
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.config import Settings
from rampup.project import ProjectFile, parse_project
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.dashboard.browser import browser_or_skip, console_errors, open_browser, wait_for
from tests.dashboard.media_models import tone
from tests.serving.conftest import ADMIN, make_settings

MODULE = "tests.dashboard.media_models"
AUTH = {"authorization": f"Bearer {ADMIN}"}


def project(privacy: dict[str, str] | None = None) -> ProjectFile:
    listen: dict[str, Any] = {"pipeline": {"stages": [
        {"model": "loud", "stop_when": "label == 'quiet'"}, {"model": "echo"}]}}
    if privacy:
        listen["privacy"] = privacy
    return parse_project({"models": {"loud": {"batching": {"enabled": False}},
                                     "echo": {"batching": {"enabled": False}},
                                     "listen": listen}})


def register(tmp_path: Path, store: Database, settings: Settings) -> None:
    ref = tmp_path / "ref"
    ref.mkdir()
    with (ref / "reference.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["audio"])
        for i in range(8):
            (ref / f"t{i}.wav").write_bytes(tone(0.1 + 0.01 * i))
            w.writerow([f"t{i}.wav"])
    reg = Registry.from_settings(settings, store)
    reg.register("loud", f"{MODULE}:Loud", version="v1", flavor="python",
                 reference=ref / "reference.csv")
    reg.register("echo", f"{MODULE}:Echo", version="v1", flavor="python")


def clip(amplitude: float) -> dict[str, str]:
    return {"audio": base64.b64encode(tone(amplitude)).decode()}


def serve(tmp_path: Path, store: Database, *, keep: bool, privacy: dict[str, str] | None = None
          ) -> BackgroundServer:
    settings = make_settings(tmp_path, monitor_interval=0.05, monitor_flush_interval=0.3,
                             input_bytes_dir=tmp_path / "bytes" if keep else None)
    register(tmp_path, store, settings)
    return BackgroundServer(create_app(settings, project(privacy), store=store)).start()


def send(url: str, n: int = 6) -> None:
    with httpx.Client(base_url=url, timeout=30.0) as c:
        for i in range(n):
            r = c.post("/v1/models/listen/predict", json=clip(0.5 + 0.05 * i))
            assert r.status_code == 200, r.text


def sample(url: str, **params: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30.0, headers=AUTH) as c:
        r = c.get("/dashboard/api/models/listen/sample", params={"stage": "loud", **params})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def test_sample_of_kept_inputs_and_their_bytes(tmp_path: Path, sqlite_store: Database) -> None:
    server = serve(tmp_path, sqlite_store, keep=True)
    try:
        send(server.url)
        body = wait_for(lambda: (s := sample(server.url)) and len(s["items"]) >= 6 and s,
                        what="six kept inputs")
        assert body["available"]
        assert body["model"] == "loud"
        assert body["protected"] == []
        item = body["items"][0]
        assert item["type"] == "audio"
        assert item["feature"] == "audio"
        assert item["metrics"]["rms_dbfs"] > -10  # the loud clips, not the reference's
        with httpx.Client(base_url=server.url, timeout=30.0, headers=AUTH) as c:
            r = c.get(f"/dashboard/api/inputs/{item['file']}")
            assert r.status_code == 200
            assert r.headers["content-type"] == "audio/wav"
            assert r.content[:4] == b"RIFF"
            assert c.get("/dashboard/api/inputs/..%2F..%2Fetc%2Fpasswd").status_code == 404
            assert c.get(f"/dashboard/api/inputs/{'0' * 64}.wav").status_code == 404
            m = c.get("/dashboard/api/models/listen/metrics",
                      params={"range": "15m", "stage": "loud"}).json()
            feat = m["inputs"]["features"]["audio.rms_dbfs"]
            assert feat["reference_mean"] < -15
            assert any(v is not None for v in feat["values"])
            assert c.get("/dashboard/api/models/listen/metrics",
                         params={"stage": "nope"}).status_code == 404
    finally:
        server.stop()


def test_no_sample_without_kept_bytes(tmp_path: Path, sqlite_store: Database) -> None:
    server = serve(tmp_path, sqlite_store, keep=False)
    try:
        send(server.url, 2)
        body = sample(server.url)
        assert body["available"] is False
        assert "RAMPUP_INPUT_BYTES_DIR" in body["reason"]
        assert body["items"] == []
    finally:
        server.stop()


def test_no_sample_of_a_protected_field(tmp_path: Path, sqlite_store: Database) -> None:
    server = serve(tmp_path, sqlite_store, keep=True, privacy={"audio": "hash"})
    try:
        send(server.url, 3)
        wait_for(lambda: sqlite_store.predictions.count_predictions("loud") >= 3, what="the log")
        body = sample(server.url)
        assert body["items"] == []
        assert body["protected"] == ["audio"]
        assert not list((tmp_path / "bytes").rglob("*.wav"))  # nothing kept to show
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    b, d = browser_or_skip()
    driver = open_browser(b, d)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.slow
def test_stage_inputs_panel_plays_a_sample(tmp_path: Path, sqlite_store: Database,
                                           browser: Any) -> None:
    from selenium.webdriver.common.by import By

    server = serve(tmp_path, sqlite_store, keep=True)
    try:
        send(server.url, 8)
        wait_for(lambda: len(sample(server.url)["items"]) >= 6, what="kept inputs")
        d = browser
        d.get(server.url + "/dashboard/models/listen")
        d.find_element(By.ID, "token").send_keys(ADMIN)
        d.find_element(By.ID, "token-save").click()
        players = wait_for(lambda: d.find_elements(By.CSS_SELECTOR,
                                                   "#stage-inputs .sample-card audio"),
                           timeout=60.0, what="audio players in the stage inputs panel")
        assert all(p.get_attribute("src").startswith("blob:") for p in players)
        assert d.find_element(By.CSS_SELECTOR, '.stage-inputs[data-stage="loud"] .charts'
                              ).get_attribute("data-metrics") != "0"
        assert d.find_elements(By.CSS_SELECTOR, "select.sample-window option")
        # the players survive a poll (a person may be listening)
        first = players[0]
        wait_for(lambda: d.execute_script("return document.body.dataset.points") is not None)
        assert first.is_displayed()
        assert console_errors(d) == []
        d.save_screenshot(str(tmp_path / "stage-inputs.png"))
    finally:
        server.stop()
