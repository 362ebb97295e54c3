"""Privacy rules cover binary inputs: a dropped or hashed image/audio field's bytes are
never kept in the bytes folder (``input_bytes_dir``) nor logged; a hashed one logs a keyed
hash of its content (equal images join), an unprotected one keeps its bytes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import orjson

from rampup.project import parse_project
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.inputs.media import clip, encode_audio, encode_image, photo
from tests.serving.conftest import make_settings


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_protected_binary_fields_keep_no_bytes(store: Database, registry: Registry,
                                                     tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    project = parse_project({"models": {"vision": {"privacy": {"photo": "hash"}},
                                        "ears": {"privacy": {"clip": "drop"}}}})
    app = create_app(make_settings(tmp_path, input_bytes_dir=blobs), project, store=store)
    image = encode_image(photo(5))
    sound = encode_audio(clip(6))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        for _ in range(2):
            r = await c.post("/v1/models/vision/predict",
                             json={"photo": b64(image), "camera": "a"})
            assert r.status_code == 200, r.text
        r = await c.post("/v1/models/ears/predict", json={"clip": b64(sound)})
        assert r.status_code == 200, r.text
        assert app.state.rampup.writer.flush(10.0)
    kept = [p for p in blobs.rglob("*") if p.is_file()] if blobs.exists() else []
    assert kept == []  # neither the hashed photo's nor the dropped clip's bytes

    def logged(model: str) -> list[dict[str, object]]:
        rows = [r for chunk in store.predictions.iter_predictions(model) for r in chunk]
        return [orjson.loads(r["inputs"]) for r in rows]

    photos = logged("vision")
    assert len(photos) == 2
    hashes = {p["photo"] for p in photos}
    assert len(hashes) == 1  # equal content, equal keyed hash
    (h,) = hashes
    assert isinstance(h, str)
    assert h.startswith("h:")
    assert hashlib.sha256(image).hexdigest() not in h
    assert all(p["camera"] == "a" for p in photos)
    clips = logged("ears")
    assert len(clips) == 1
    assert "clip" not in clips[0]
    for rows in (photos, clips):
        assert b64(image)[:40] not in orjson.dumps(rows).decode()


async def test_unprotected_binary_fields_still_keep_bytes(store: Database, registry: Registry,
                                                          tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    project = parse_project({"models": {"vision": {"privacy": {"camera": "mask"}}}})
    app = create_app(make_settings(tmp_path, input_bytes_dir=blobs), project, store=store)
    image = encode_image(photo(7))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        r = await c.post("/v1/models/vision/predict", json={"photo": b64(image),
                                                            "camera": "cam"})
        assert r.status_code == 200, r.text
        assert app.state.rampup.writer.flush(10.0)
    sha = hashlib.sha256(image).hexdigest()
    assert (blobs / sha[:2] / f"{sha}.png").read_bytes() == image
