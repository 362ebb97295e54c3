"""Real PNG/JPEG/WAV/FLAC inputs through the HTTP app: base64 in JSON and multipart
uploads; every bad input a 4xx naming the field and the fix; the log keeps a hash and
the input metrics, never the bytes."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from rampup.registry.registry import Registry
from rampup.registry.schema import Feature, InputSchema
from rampup.serving.validation import FormText, Validator
from rampup.store import Database
from tests.inputs.media import clip, encode_audio, encode_image, photo


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_base64_png_and_jpeg_are_decoded_for_the_model(client: httpx.AsyncClient) -> None:
    px = photo(7)
    r = await client.post("/v1/models/vision/predict",
                          json=[{"photo": b64(encode_image(px, "PNG")), "camera": "a"},
                                {"photo": {"b64": b64(encode_image(px, "JPEG"))}, "camera": "b"},
                                {"photo": "data:image/png;base64," + b64(encode_image(px)),
                                 "camera": "a"}])
    assert r.status_code == 200, r.text
    preds = [p["prediction"] for p in r.json()["predictions"]]
    assert preds[0] == pytest.approx(float(px.mean()))  # PNG is lossless
    assert preds[1] == pytest.approx(float(px.mean()), abs=2.0)  # JPEG nearly
    assert preds[2] == preds[0]


async def test_multipart_upload_of_an_image_and_a_clip(client: httpx.AsyncClient) -> None:
    px = photo(3)
    r = await client.post("/v1/models/vision/predict",
                          files={"photo": ("cat.png", encode_image(px), "image/png")},
                          data={"camera": "b"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["prediction"] == pytest.approx(float(px.mean()))
    loud = np.concatenate([clip(1, 0.5, level=0.5, silence=0.0), np.zeros(8000, np.float32)])
    r = await client.post("/v1/models/ears/predict",
                          files={"clip": ("a.wav", encode_audio(loud), "audio/wav")})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["prediction"] == "loud quiet"
    r = await client.post("/v1/models/ears/predict",
                          json={"clip": b64(encode_audio(loud, fmt="FLAC"))})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["prediction"] == "loud quiet"


@pytest.mark.parametrize(("model", "body", "field", "says", "fix"), [
    ("vision", {"photo": "not base64!", "camera": "a"}, "photo", "not valid base64", "base64"),
    ("vision", {"photo": b64(b"GIF89a" + bytes(40)), "camera": "a"}, "photo",
     "not a readable PNG or JPEG", "PNG or JPEG"),
    ("vision", {"photo": b64(encode_image(np.zeros((700, 800, 3), np.uint8))), "camera": "a"},
     "photo",
     "800x700 = 560,000 pixels, over the limit of 307,200", "resize"),
    ("vision", {"photo": 12, "camera": "a"}, "photo", "must be a file, got int", "base64"),
    ("vision", {"camera": "a"}, "photo", "is missing and is required", "PNG or JPEG"),
    ("ears", {"clip": b64(encode_audio(clip(1), rate=22050))}, "clip",
     "sample rate of 22050 Hz, not one of 16000, 8000", "resample it to 16000 Hz"),
    ("ears", {"clip": b64(encode_audio(clip(1, seconds=11)))}, "clip",
     "11.0 s long, over the limit of 10 s", "cut it"),
    ("ears", {"clip": b64(encode_image(photo(1)))}, "clip", "not a readable WAV or FLAC",
     "WAV or FLAC"),
    ("vectors", {"grid": [[1, 2], [3, 4], [5, 6]], "vec": [1, 2, 3, 4]}, "grid",
     "has shape (3, 2), expected (2, any)", "shape (2, any)"),
    ("vectors", {"grid": [[1, 2], [3]], "vec": [1, 2, 3, 4]}, "grid", "array", "shape"),
    ("vectors", {"grid": [[1], [2]], "vec": [1, 2, 3]}, "vec", "has 3 numbers, expected 4",
     "exactly 4 numbers"),
    ("vectors", {"grid": [[1], [2]], "vec": [1, 2, "x", 4]}, "vec", "array of numbers",
     "JSON array of numbers"),
    ("vectors", {"grid": [[1], [2]], "vec": [1, 2, 3, 4], "note": "x" * 201}, "note",
     "201 characters long, longer than 200", "at most 200"),
])
async def test_bad_inputs_are_422_naming_field_and_fix(
        client: httpx.AsyncClient, model: str, body: dict[str, object], field: str, says: str,
        fix: str) -> None:
    r = await client.post(f"/v1/models/{model}/predict", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field
    assert says in err["message"]
    assert fix in err["fix"]
    ok = await client.post("/v1/models/vectors/predict",
                           json={"grid": [[1.0, 2.0], [3.0, 4.0]], "vec": [0, 0, 3, 4]})
    assert ok.status_code == 200  # the server keeps serving
    assert ok.json()["predictions"][0]["prediction"] == pytest.approx(15.0)


async def test_bad_multipart_bodies_are_4xx(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/vision/predict", content=b"--x\r\nbroken",
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] in ("body", "photo")
    r = await client.post("/v1/models/vision/predict",
                          files={"photo": ("a.txt", b"hello", "text/plain")},
                          data={"camera": "a"})
    assert r.status_code == 422
    assert r.json()["field"] == "photo"
    # a form's text fields are typed by the schema (forms carry only text and files)
    v = Validator(InputSchema([Feature("n", "int"), Feature("vec", "embedding", length=2),
                               Feature("s", "str")]))
    batch = v.validate([{"n": FormText("42"), "vec": FormText("[1, 2]"), "s": FormText("42")}])
    assert batch.columns["n"] == [42]
    assert batch.columns["s"] == ["42"]
    assert batch.columns["vec"][0].tolist() == [1.0, 2.0]


async def test_the_log_keeps_hash_and_metrics_not_bytes(client: httpx.AsyncClient,
                                                         store: Database) -> None:
    data = encode_image(photo(5))
    r = await client.post("/v1/models/vision/predict", json={"photo": b64(data), "camera": "a"})
    pid = r.json()["predictions"][0]["id"]
    state = client.app.state.rampup  # type: ignore[attr-defined]
    assert state.writer.flush(5.0)
    row = store.predictions.get_predictions([pid])[0]
    assert b64(data)[:40] not in row["inputs"]
    logged = orjson.loads(row["inputs"])
    import hashlib

    assert logged["photo"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert logged["photo"]["format"] == "png"
    assert logged["photo"]["metrics"]["width"] == 64.0
    assert 0 < logged["photo"]["metrics"]["brightness"] < 1
    assert logged["camera"] == "a"


def test_registration_profiles_the_input_metrics(registry: Registry) -> None:
    v = registry.get("vision", "v1")
    feats = v.profile["features"] if v.profile else {}
    assert feats["photo"]["kind"] == "media"
    assert feats["photo.brightness"]["kind"] == "numeric"
    assert feats["photo.brightness"]["count"] == 40
    assert feats["photo.width"]["mean"] == 64.0
    ears = registry.get("ears", "v1")
    assert ears.output["task"] == "transcription"
    assert ears.profile is not None
    assert ears.profile["features"]["clip.duration"]["mean"] == pytest.approx(1.0)


async def test_bytes_are_kept_only_when_asked(store: Database, registry: Registry,
                                              tmp_path: Path) -> None:
    import hashlib

    from rampup.project import ProjectFile
    from rampup.serving.app import create_app
    from tests.serving.conftest import make_settings

    blobs = tmp_path / "blobs"
    app = create_app(make_settings(tmp_path, input_bytes_dir=blobs), ProjectFile(),
                     store=store)
    data = encode_image(photo(11))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        r = await c.post("/v1/models/vision/predict", json={"photo": b64(data), "camera": "a"})
        assert r.status_code == 200
        assert app.state.rampup.writer.flush(5.0)
    sha = hashlib.sha256(data).hexdigest()
    assert (blobs / sha[:2] / f"{sha}.png").read_bytes() == data
