"""Review items of image inputs keep the bytes while they wait (a data: URL beside the
logged summary), drop them when decided, and never hold bytes of a field the privacy
rules protect."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.inputs.media import encode_image, photo
from tests.serving.conftest import make_settings

MODELS = Path(__file__).with_name("media_models.py")


async def _item(tmp_path: Path, store: Database, model_spec: dict[str, Any],
                ) -> tuple[dict[str, Any], httpx.Response]:
    settings = make_settings(tmp_path)
    Registry.from_settings(settings, store).register("shade", f"{MODELS}:shade")
    project = ProjectFile.model_validate({"models": {"shade": model_spec}})
    app = create_app(settings, project, store=store)
    png = encode_image(photo(1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            r = await c.post("/v1/models/shade/predict",
                             json={"photo": base64.b64encode(png).decode()})
            assert r.status_code == 200, r.text
            item_id = r.json()["predictions"][0]["review_id"]
            nxt = await c.post("/v1/models/shade/review/next", headers={"x-reviewer": "ana"})
            assert nxt.json()["item"]["id"] == item_id
            decided = await c.post(f"/v1/models/shade/review/items/{item_id}/decide",
                                   headers={"x-reviewer": "ana"}, json={"label": "light"})
            assert decided.status_code == 200, decided.text
    return nxt.json(), decided


@pytest.mark.parametrize("level", ["ai_assist", "human_only"])
async def test_an_image_item_keeps_its_bytes_until_decided(tmp_path: Path, store: Database,
                                                           level: str) -> None:
    body, decided = await _item(tmp_path, store, {"automation": {"level": level}})
    photo_in = body["item"]["inputs"]["photo"]
    assert photo_in["type"] == "image"
    assert photo_in["format"] == "png"
    assert photo_in["data"].startswith("data:image/png;base64,")
    assert set(photo_in["metrics"]) >= {"brightness", "contrast"}
    assert body["task"] is None
    assert decided.json()["item"]["inputs"]["photo"]["data"] is None
    assert decided.json()["item"]["inputs"]["photo"]["sha256"] == photo_in["sha256"]


async def test_a_protected_image_never_reaches_the_item_as_bytes(tmp_path: Path,
                                                                 store: Database) -> None:
    body, _ = await _item(tmp_path, store, {"automation": {"level": "ai_assist"},
                                            "privacy": {"photo": "hash"}})
    value = body["item"]["inputs"]["photo"]
    assert isinstance(value, str)
    assert value.startswith("h:")


async def test_the_human_version_decodes_photos_like_the_model(tmp_path: Path,
                                                               store: Database) -> None:
    """Routed to the built-in ``human`` version, a photo is still decoded: the item shows
    it, and the log holds its hash and metrics, not its base64 text."""
    settings = make_settings(tmp_path)
    Registry.from_settings(settings, store).register("shade", f"{MODELS}:shade")
    store.deployments.append_deployment("shade", {"routes": {"human": 100.0}}, "test",
                                        "people decide")
    app = create_app(settings, ProjectFile(), store=store)
    png = encode_image(photo(2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            r = await c.post("/v1/models/shade/predict",
                             json={"photo": base64.b64encode(png).decode()})
            assert r.status_code == 200, r.text
            assert r.headers["x-model-version"] == "human"
            nxt = await c.post("/v1/models/shade/review/next", headers={"x-reviewer": "ana"})
            app.state.rampup.writer.flush(5.0)
    value = nxt.json()["item"]["inputs"]["photo"]
    assert value["data"].startswith("data:image/png;base64,")
    (row,) = [r for chunk in store.predictions.iter_predictions("shade") for r in chunk]
    logged = row["inputs"] if isinstance(row["inputs"], dict) else json.loads(row["inputs"])
    assert logged["photo"]["type"] == "image"
    assert "data" not in logged["photo"]
