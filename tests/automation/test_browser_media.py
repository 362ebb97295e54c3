"""The review page with media in headless Chromium against a real uvicorn server: a photo
is shown and classified with the keyboard, a clip plays and its transcript is typed; the
page's policy allows data:/blob: media and nothing else; the bytes leave the item once it
is decided."""

from __future__ import annotations

import base64
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
from tests.inputs.media import clip, encode_audio, encode_image, photo
from tests.serving.conftest import make_settings

pytestmark = pytest.mark.slow
MODELS = Path(__file__).with_name("media_models.py")


@pytest.fixture
def live(tmp_path: Path, sqlite_store: Database) -> Iterator[tuple[str, Any]]:
    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path)
    registry = Registry.from_settings(settings, sqlite_store)
    registry.register("shade", f"{MODELS}:shade")
    registry.register("ears", f"{MODELS}:ears")
    registry.register("spots", f"{MODELS}:spots")
    project = ProjectFile.model_validate({"models": {
        "shade": {"automation": {"level": "ai_assist"},
                  "output_labels": {"dark": "underexposed", "light": "well lit"}},
        "ears": {"automation": {"level": "ai_assist"}},
        "spots": {"automation": {"level": "ai_assist"}}}})
    server = BackgroundServer(create_app(settings, project, store=sqlite_store)).start()
    driver = open_browser(browser, chromedriver)
    try:
        yield server.url, driver
    finally:
        driver.quit()
        server.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _open(driver: Any, url: str, model: str, item: str) -> None:
    driver.get(f"{url}/review/{model}")
    driver.find_element("id", "reviewer").send_keys("ana")
    driver.find_element("tag name", "h1").click()  # blur: the change event starts the queue
    wait_for(lambda: driver.find_element("id", "item-id").text == item, what="the item")


def test_a_photo_is_shown_and_classified(live: tuple[str, Any],
                                         sqlite_store: Database) -> None:
    url, driver = live
    png = encode_image(photo(3, brightness=0.4))
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/models/shade/predict", json={"photo": _b64(png)})
        assert r.status_code == 200, r.text
        item_id = r.json()["predictions"][0]["review_id"]
        page = c.get("/review/shade")
        csp = page.headers["content-security-policy"]
        assert "media-src 'self' data: blob:" in csp
        assert "script-src 'self';" in csp
        assert "unsafe-inline" not in csp
        other = c.get("/review")  # the index keeps the strict policy
        assert "media-src" not in other.headers["content-security-policy"]
    _open(driver, url, "shade", item_id)
    img = driver.find_element("css selector", "#inputs img.media")
    wait_for(lambda: driver.execute_script("return arguments[0].naturalWidth", img) == 64,
             what="the photo decoded")
    assert img.get_attribute("src").startswith("data:image/png;base64,")
    assert "png" in driver.find_element("css selector", "#inputs .media-meta").text
    assert driver.find_element("id", "suggestion-value").text == "dark (underexposed)"
    driver.save_screenshot(str(artifacts_dir() / "review_photo.png"))
    driver.find_element("tag name", "body").send_keys("1")  # "dark", with the keyboard
    wait_for(lambda: driver.find_element("id", "empty").is_displayed(), what="empty queue")
    assert [f.value for f in sqlite_store.feedback.list_feedback(item_id)] == ["dark"]
    stored = sqlite_store.review.get_review_item(item_id)
    assert stored is not None
    assert stored["status"] == "decided"
    assert stored["inputs"]["photo"]["data"] is None  # the bytes left with the decision
    assert stored["inputs"]["photo"]["sha256"]  # the summary stays
    assert console_errors(driver) == []


def test_a_clip_plays_and_its_transcript_is_typed(live: tuple[str, Any],
                                                  sqlite_store: Database) -> None:
    url, driver = live
    wav = encode_audio(clip(5, seconds=1.5))
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/models/ears/predict", json={"clip": _b64(wav)})
        assert r.status_code == 200, r.text
        item_id = r.json()["predictions"][0]["review_id"]
        suggested = r.json()["predictions"][0]["prediction"]
    _open(driver, url, "ears", item_id)
    audio = driver.find_element("css selector", "#inputs audio.media")
    wait_for(lambda: driver.execute_script("return arguments[0].duration", audio) > 1.4,
             what="the clip's metadata loaded")
    box = driver.find_element("id", "transcript")
    assert box.get_attribute("value") == suggested  # the model's transcript to correct
    assert driver.find_elements("css selector", "#labels button") == []
    driver.find_element("tag name", "h1").click()
    driver.find_element("tag name", "body").send_keys("p")  # play with the keyboard
    wait_for(lambda: driver.execute_script(
        "const a = arguments[0]; return !a.paused || a.currentTime > 0 || a.ended", audio),
        what="the clip playing")
    driver.find_element("tag name", "body").send_keys("t")  # back to the transcript box
    box = driver.switch_to.active_element
    assert box.get_attribute("id") == "transcript"
    box.clear()
    box.send_keys("loud quiet loud")
    driver.save_screenshot(str(artifacts_dir() / "review_clip.png"))
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.ENTER)
    wait_for(lambda: driver.find_element("id", "empty").is_displayed(), what="empty queue")
    assert [f.value for f in sqlite_store.feedback.list_feedback(item_id)] == ["loud quiet loud"]
    stored = sqlite_store.review.get_review_item(item_id)
    assert stored is not None
    assert stored["inputs"]["clip"]["data"] is None
    assert console_errors(driver) == []


def test_detections_are_marked_right_or_wrong(live: tuple[str, Any],
                                              sqlite_store: Database) -> None:
    url, driver = live
    png = encode_image(photo(7))
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/models/spots/predict", json={"photo": _b64(png)})
        assert r.status_code == 200, r.text
        item_id = r.json()["predictions"][0]["review_id"]
    _open(driver, url, "spots", item_id)
    assert driver.find_element("css selector", "#inputs img.media")
    marks = driver.find_elements("css selector", "#marks-list button")
    assert [m.get_attribute("class") for m in marks] == ["mark right", "mark right"]
    body = driver.find_element("tag name", "body")
    body.send_keys("2")  # the unsure dent is wrong
    wait_for(lambda: "wrong" in driver.find_elements("css selector", "#marks-list button")[1]
             .get_attribute("class"), what="the second box marked wrong")
    driver.save_screenshot(str(artifacts_dir() / "review_detections.png"))
    from selenium.webdriver.common.keys import Keys

    body.send_keys(Keys.ENTER)
    wait_for(lambda: driver.find_element("id", "empty").is_displayed(), what="empty queue")
    assert [f.value for f in sqlite_store.feedback.list_feedback(item_id)] == [
        [{"box": [2, 2, 20, 6], "class": "scratch"}]]
    assert console_errors(driver) == []
