"""The real app serving a ``vad`` -> ``asr`` pipeline named ``transcribe``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from rampup.config import Settings
from rampup.project import ProjectFile, parse_project
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database

MODULE = "tests.serving.pipeline_models"
PROJECT: dict[str, Any] = {"models": {
    "vad": {"batching": {"enabled": False}},
    "asr": {"batching": {"enabled": False}},
    "transcribe": {"pipeline": {"stages": [
        {"model": "vad", "stop_when": "label == 'no_speech'"},
        {"model": "asr", "inputs": {"audio_len": "input.audio_len",
                                    "speech_ratio": "vad.probabilities.speech"}},
    ]}},
}}


def project() -> ProjectFile:
    return parse_project(PROJECT)


def register(store: Database, settings: Settings) -> Registry:
    reg = Registry.from_settings(settings, store)
    reg.register("vad", f"{MODULE}:Vad", version="v1", flavor="python")
    reg.register("asr", f"{MODULE}:Asr", version="v1", flavor="python")
    return reg


@asynccontextmanager
async def serve(store: Database, settings: Settings,
                proj: ProjectFile | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, proj or project(), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def speech(energy: float = 0.9, audio_len: float = 10.0) -> dict[str, float]:
    return {"energy": energy, "audio_len": audio_len}
