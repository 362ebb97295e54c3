"""The serving tests' real model and app (with an automation section), for security tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rampup.security.tokens import hash_token, new_token
from rampup.store import Database
from tests.automation.conftest import automation, project
from tests.serving.conftest import client, make_settings, record, registry, settings, trained

__all__ = ["automation", "client", "make_settings", "project", "record", "registry",
           "settings", "trained"]


def add_token(store: Database, kind: str, name: str, role: str | None = None) -> str:
    token = new_token(kind[:3])
    store.credentials.add_token(kind, name, hash_token(token), role=role, actor="test")
    return token


def fresh_tokens(client: httpx.AsyncClient) -> None:
    """Make the app's token cache forget (as it does by itself within seconds)."""
    book: Any = client.app.state.rampup.tokens  # type: ignore[attr-defined]
    book._cache.clear()
    book._counts.clear()


@pytest.fixture
def bearer() -> Any:
    return lambda token: {"authorization": f"Bearer {token}"}
