"""The real HTTP app in-process, for tests: lifespan started, an httpx client on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from rampup.config import Settings
from rampup.project import ProjectFile
from rampup.serving.app import create_app
from rampup.store import Database


@contextlib.asynccontextmanager
async def app_client(settings: Settings, store: Database,
                     project: ProjectFile | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on ``create_app(settings, project, store=store)`` with its lifespan
    running; the app is ``client.app``."""
    app = create_app(settings, project or ProjectFile(), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c
