"""Models over images, audio and vectors registered with generated reference files,
served in-process (httpx ASGI transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.app_client import app_client
from tests.inputs.media import clip, encode_audio, encode_image, photo
from tests.serving.conftest import make_settings

MODELS = Path(__file__).with_name("media_models.py")


@dataclass
class Media:
    folder: Path
    images: Path  # manifest CSV: photo,camera
    clips: Path  # manifest CSV: clip,text


@pytest.fixture
def media(tmp_path: Path) -> Media:
    folder = tmp_path / "media"
    folder.mkdir()
    rows = []
    for i in range(40):
        name = f"img{i:02d}.{'png' if i % 2 else 'jpg'}"
        (folder / name).write_bytes(encode_image(photo(i), "PNG" if i % 2 else "JPEG"))
        rows.append({"photo": name, "camera": "a" if i % 3 else "b"})
    pd.DataFrame(rows).to_csv(folder / "images.csv", index=False)
    clips = []
    for i in range(30):
        name = f"clip{i:02d}.{'wav' if i % 2 else 'flac'}"
        (folder / name).write_bytes(encode_audio(clip(i), fmt="WAV" if i % 2 else "FLAC"))
        clips.append({"clip": name, "text": "loud loud"})
    pd.DataFrame(clips).to_csv(folder / "clips.csv", index=False)
    return Media(folder, folder / "images.csv", folder / "clips.csv")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def registry(store: Database, settings: Settings, media: Media) -> Registry:
    reg = Registry.from_settings(settings, store)
    reg.register("vision", f"{MODELS}:brightness", reference=media.images)
    reg.register("ears", f"{MODELS}:loudness", reference=media.clips, label_column="text")
    reg.register("vectors", f"{MODELS}:vector_sum")
    return reg


@pytest.fixture
async def client(store: Database, settings: Settings, registry: Registry,
                 ) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, store) as c:
        yield c
