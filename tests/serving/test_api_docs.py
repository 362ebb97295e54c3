"""``/docs`` and ``/redoc`` come from files rampup ships: the pages, their headers and the
vendored files over the ASGI app, then both rendered in Chromium with the network log
checked for anything fetched from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from rampup.serving.api_docs import STATIC_DIR
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.dashboard.browser import (
    browser_or_skip,
    console_errors,
    open_browser,
    requested_urls,
    wait_for,
)
from tests.serving.conftest import make_settings

LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
ASSETS = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_pages_load_only_files_of_this_server(client: httpx.AsyncClient,
                                                    page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp  # no inline script, no CDN
    assert "<script>" not in r.text
    refs = ASSETS.findall(r.text)
    assert refs
    for ref in refs:
        assert ref.startswith("/docs/static/"), ref
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    spec = re.search(r'(?:spec-url|data-spec)="([^"]+)"', r.text)
    assert spec is not None
    assert spec.group(1) == "/openapi.json"


async def test_docs_routes_not_in_the_schema_and_fastapi_cdn_pages_gone(
        client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert not any(p.startswith("/docs") or p == "/redoc" for p in schema["paths"])
    r = await client.get("/docs")
    assert "cdn.jsdelivr.net" not in r.text
    assert "fonts.googleapis.com" not in r.text


def test_vendored_files_ship_with_their_licences() -> None:
    for folder, files in {
        "swagger-ui": ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"),
        "redoc": ("redoc.standalone.js", "LICENSE"),
    }.items():
        for name in files:
            assert (STATIC_DIR / folder / name).stat().st_size > 0, f"{folder}/{name}"
    readme = (STATIC_DIR / "README.md").read_text()
    assert "swagger-ui-dist" in readme
    assert "redoc" in readme


@pytest.mark.slow
def test_docs_and_redoc_render_offline_in_chromium(tmp_path: Path,
                                                   sqlite_store: Database) -> None:
    """Both viewers draw the API's operations with every request going to this server.

    The network log lists refused requests too: the only one going elsewhere is ReDoc's
    "API docs by Redocly" logo (hard-coded in its footer), which the page's CSP refuses
    before it leaves the browser (the image then hides itself)."""
    from selenium.webdriver.common.by import By

    browser, chromedriver = browser_or_skip()
    settings = make_settings(tmp_path)
    server = BackgroundServer(create_app(settings, store=sqlite_store)).start()
    d = open_browser(browser, chromedriver)
    try:
        d.get(server.url + "/docs")
        ops = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"),
                       timeout=60, what="Swagger UI's operations")
        assert len(ops) > 10
        text = d.find_element(By.CSS_SELECTOR, ".swagger-ui").text
        assert "/v1/models/{name}/predict" in text
        docs_urls = requested_urls(d)
        docs_errors = console_errors(d)

        d.get(server.url + "/redoc")
        wait_for(lambda: "/v1/models/{name}/predict" in d.find_element(
            By.TAG_NAME, "body").text, timeout=60, what="ReDoc's operations")
        assert d.find_elements(By.CSS_SELECTOR, "[data-section-id]")
        redoc_urls = requested_urls(d)
        redoc_errors = console_errors(d)
    finally:
        d.quit()
        server.stop()
    for urls in (docs_urls, redoc_urls):
        assert any(u.endswith("/openapi.json") for u in urls)
        sent = [u for u, refused in urls.items() if refused is None
                and not u.startswith((server.url + "/", "data:", "blob:"))]
        assert sent == []
    assert [u for u, refused in docs_urls.items() if refused] == []
    assert docs_errors == []
    assert [u for u, refused in redoc_urls.items() if refused] == [LOGO]
    assert [e for e in redoc_errors if LOGO not in e] == []
