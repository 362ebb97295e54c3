"""Safe defaults at the door: cross-site state changes are refused, every HTML page has a
strict CSP and friends, named admin tokens work (and rotate) and every admin action is in
the audit trail, names are validated whole, and serve refuses a public address without
an admin token."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rampup.cli import app as cli_app
from rampup.store import Database
from tests.automation.conftest import BASE, predict_many
from tests.security.conftest import add_token, fresh_tokens
from tests.serving.conftest import Trained

AI_ASSIST = [{"level": "ai_assist", "labels": ["good", "bad"]}]


@pytest.mark.parametrize("automation", AI_ASSIST, indirect=True)
async def test_cross_site_state_changes_are_refused(client: httpx.AsyncClient,
                                                    trained: Trained, store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 2))["predictions"]
    feedback = {"request_id": preds[0]["id"], "label": 1}
    evil = [{"origin": "https://evil.example"}, {"origin": "null"},
            {"referer": "https://evil.example/page.html"},
            {"origin": "http://rampup.evil.example"}]
    for headers in evil:
        # a "simple" cross-site request: text/plain body, no preflight in a browser
        r = await client.post(f"{BASE}/feedback", content=b"{\"request_id\": \"x\", \"label\": 1}",
                              headers={**headers, "content-type": "text/plain"})
        assert r.status_code == 403, headers
        assert r.json()["field"] == "origin"
        assert "RAMPUP_ALLOWED_ORIGINS" in r.json()["fix"]
        r = await client.post(f"{BASE}/review/next", json={"reviewer": "ana"}, headers=headers)
        assert r.status_code == 403
        r = await client.post(f"{BASE}/predict", json={}, headers=headers)
        assert r.status_code == 403
    assert store.feedback.list_feedback(preds[0]["id"]) == []
    # the server's own pages, and clients that send no Origin (curl, SDKs), pass
    for headers in ({"origin": "http://rampup"}, {"referer": "http://rampup/review/credit"},
                    {}):
        r = await client.post(f"{BASE}/feedback", json=feedback, headers=headers)
        assert r.status_code == 200, (headers, r.text)
    r = await client.post(f"{BASE}/review/next", json={"reviewer": "ana"},
                          headers={"origin": "http://rampup"})
    assert r.status_code == 200
    # reads are not state changes
    r = await client.get("/healthz", headers={"origin": "https://evil.example"})
    assert r.status_code == 200


async def test_every_html_page_has_strict_headers(client: httpx.AsyncClient) -> None:
    pages = ["/review", "/review/credit", "/dashboard", "/dashboard/models/credit", "/docs",
             "/redoc"]
    for path in pages:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp, path
        script_src = csp.split("script-src")[1].split(";")[0]
        assert script_src.strip() == "'self'", path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        # no inline script (it would not run under the CSP, so the page would be broken)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path
    for path in ("/review/static/review.js", "/review/static/review.css"):
        r = await client.get(path)
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
    js = (await client.get("/review/static/review.js")).text
    assert "sessionStorage" in js
    assert "localStorage" not in js


async def test_named_admin_tokens_rotate_and_every_admin_action_is_audited(
        client: httpx.AsyncClient, store: Database) -> None:
    old = add_token(store, "admin", "ops-2025")
    body = {"routes": {"v1": 100}}
    url = "/v1/admin/models/credit/deployment"
    r = await client.put(url, json=body, headers={"authorization": f"Bearer {old}"})
    assert r.status_code == 200, r.text
    new = add_token(store, "admin", "ops-2026")  # rotate: add, switch, revoke
    store.credentials.revoke_token("admin", "ops-2025")
    fresh_tokens(client)
    r = await client.put(url, json=body, headers={"authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert "revoked" in r.json()["message"]
    r = await client.put(url, json=body, headers={"authorization": f"Bearer {new}"})
    assert r.status_code == 200
    r = await client.put("/v1/admin/models/credit/automation", json={"level": "shadow"},
                         headers={"authorization": f"Bearer {new}"})
    assert r.status_code == 200, r.text
    await asyncio.sleep(0)
    events = store.events.list_events(action="admin.request")
    got = [(e.actor, e.model, e.details["method"], e.details["path"], e.details["status"])
           for e in reversed(events)]
    assert got == [
        ("admin:ops-2025", "credit", "PUT", url, 200),
        ("admin:ops-2026", "credit", "PUT", url, 200),
        ("admin:ops-2026", "credit", "PUT", "/v1/admin/models/credit/automation", 200)]
    assert all(e.details["client"] == "127.0.0.1" for e in events)
    assert old not in repr(events)
    assert new not in repr(events)
    r = await client.get("/v1/admin/models/credit/automation",
                         headers={"authorization": f"Bearer {new}"})
    assert r.json()["history"][0]["actor"] == "admin:ops-2026"  # the token, not a typed name


async def test_names_are_validated_whole(client: httpx.AsyncClient) -> None:
    auth = {"authorization": "Bearer admin-secret"}
    for name in ("xss-rule\n", "rule\n", "a b"):
        r = await client.post("/v1/admin/models/credit/alerts", headers=auth,
                              json={"name": name, "condition": "error_rate > 0.5"})
        assert r.status_code == 422, (name, r.text)
    r = await client.post("/v1/models/credit/feedback",
                          json={"request_id": "x", "events": ["repeated_query\n"]})
    assert r.status_code == 422


def test_serve_refuses_a_public_address_without_an_admin_token(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.delenv("RAMPUP_ADMIN_TOKEN", raising=False)
    r = CliRunner().invoke(cli_app, ["--project", str(tmp_path), "serve", "--host", "0.0.0.0",
                                     "--port", "1"])
    assert r.exit_code == 2, r.output
    assert "refusing to serve 0.0.0.0" in r.output
    assert "--insecure" in r.output
    assert "rampup tokens add" in r.output
