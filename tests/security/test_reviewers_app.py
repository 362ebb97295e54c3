"""Reviewers are people with credentials: the decision names the authenticated reviewer,
leads adjudicate, and an open queue exists only on loopback with no reviewer configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.config import Settings
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.automation.conftest import BASE, predict_many
from tests.security.conftest import add_token, fresh_tokens
from tests.serving.conftest import ADMIN, Trained, make_settings

REVIEW = f"{BASE}/review"
AI_ASSIST = [{"level": "ai_assist", "labels": ["good", "bad"]}]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("automation", AI_ASSIST, indirect=True)
async def test_deciding_needs_a_reviewer_token_once_reviewers_exist(
        client: httpx.AsyncClient, trained: Trained, store: Database) -> None:
    await predict_many(client, trained.frame, 3)
    r = await client.get("/review/credit")
    assert 'id="open-note"' in r.text  # nobody configured, loopback: open, and it says so
    ana = add_token(store, "reviewer", "ana")
    lead = add_token(store, "reviewer", "lea", role="lead")
    fresh_tokens(client)
    r = await client.get("/review/credit")
    assert 'id="open-note"' not in r.text
    # a free-text name is no credential any more
    r = await client.post(f"{REVIEW}/next", json={"reviewer": "mallory"})
    assert r.status_code == 401, r.text
    assert "reviewer token" in r.json()["message"]
    r = await client.post(f"{REVIEW}/next", headers=auth("rpu_rev_guessed"))
    assert r.status_code == 401
    r = await client.post(f"{REVIEW}/next", json={"reviewer": "mallory"}, headers=auth(ana))
    item = r.json()["item"]
    assert item["claimed_by"] == "ana"
    r = await client.post(f"{REVIEW}/items/{item['id']}/decide",
                          json={"label": "good", "reviewer": "mallory"})
    assert r.status_code == 401
    r = await client.post(f"{REVIEW}/items/{item['id']}/decide",
                          json={"label": "good", "reviewer": "mallory"}, headers=auth(ana))
    assert r.status_code == 200, r.text
    assert r.json()["item"]["decided_by"] == "ana"
    labels = store.review.list_review_labels("credit", item_ids=[item["id"]], kinds=("label",))
    assert [lb["reviewer"] for lb in labels] == ["ana"]
    who = await client.get("/v1/review/whoami", headers=auth(lead))
    assert who.json() == {"reviewer": "lea", "kind": "reviewer", "role": "lead",
                          "lead": True, "open": False}
    # adjudication: leads and admins, not reviewers
    other = (await client.get(f"{REVIEW}/items", params={"status": "open"},
                              headers=auth(ana))).json()["items"][0]
    r = await client.post(f"{REVIEW}/items/{other['id']}/adjudicate", json={"label": "bad"},
                          headers=auth(ana))
    assert r.status_code == 401
    assert "lead" in r.json()["fix"]
    r = await client.post(f"{REVIEW}/items/{other['id']}/adjudicate", json={"label": "bad"},
                          headers=auth(lead))
    assert r.status_code == 200, r.text
    assert r.json()["item"]["decided_by"] == "adjudicator:lea"
    # revoked: refused as soon as the cache forgets (a few seconds on a running server)
    store.credentials.revoke_token("reviewer", "ana")
    fresh_tokens(client)
    r = await client.post(f"{REVIEW}/next", headers=auth(ana))
    assert r.status_code == 401
    assert "revoked" in r.json()["message"]


@pytest.mark.parametrize("automation", AI_ASSIST, indirect=True)
async def test_a_public_address_without_reviewers_keeps_the_queue_closed(
        store: Database, registry: Registry, project: ProjectFile, trained: Trained,
        tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path, host="0.0.0.0")
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        await predict_many(c, trained.frame, 2)  # type: ignore[arg-type]
        r = await c.post(f"{REVIEW}/next", json={"reviewer": "ana"})
        assert r.status_code == 403
        assert "rampup reviewers add" in r.json()["fix"]
        page = await c.get("/review/credit")
        assert 'id="open-note"' not in page.text
        r = await c.post(f"{REVIEW}/next", headers=auth(ADMIN))  # an admin may review
        assert r.status_code == 200
        assert r.json()["item"]["claimed_by"] == "admin:env"


def test_reviewers_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rampup.cli import app

    runner = CliRunner()
    base = ["--project", str(tmp_path)]
    r = runner.invoke(app, [*base, "reviewers", "add", "ana", "--role", "lead", "--json"])
    assert r.exit_code == 0, r.output
    import json

    out: dict[str, Any] = json.loads(r.output)
    assert out["token"].startswith("rpu_rev_")
    assert out["role"] == "lead"
    r = runner.invoke(app, [*base, "reviewers", "add", "ana"])
    assert r.exit_code == 2
    assert "exists" in r.output
    r = runner.invoke(app, [*base, "reviewers", "add", "bo", "--role", "boss"])
    assert r.exit_code == 2
    assert "reviewer, lead" in r.output
    r = runner.invoke(app, [*base, "reviewers", "add", "Bad Name\n"])
    assert r.exit_code == 2
    assert "invalid token name" in r.output
    r = runner.invoke(app, [*base, "reviewers", "list"])
    assert "ana" in r.output
    assert "lead" in r.output
    store = Database.open(f"sqlite:///{tmp_path / 'rampup.db'}")
    try:
        assert out["token"] not in (tmp_path / "rampup.db").read_bytes().decode("latin-1")
        from rampup.security.tokens import hash_token

        assert store.credentials.find_token(hash_token(out["token"]))["name"] == "ana"  # type: ignore[index]
    finally:
        store.close()
    r = runner.invoke(app, [*base, "reviewers", "revoke", "ana"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*base, "reviewers", "revoke", "ana"])
    assert r.exit_code == 2
    assert "no active reviewer token" in r.output
    r = runner.invoke(app, [*base, "events", "--action", "reviewer_token.*", "--since", "1d",
                            "--json"])
    actions = [e["action"] for e in json.loads(r.output)]
    assert actions == ["reviewer_token.revoke", "reviewer_token.add"]
