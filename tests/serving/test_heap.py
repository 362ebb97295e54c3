"""A server freezes what it holds after start-up (and after a new model loads)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.serving.heap import settle
from rampup.store import Database
from tests.serving.conftest import Trained, make_settings, record


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test process collects as before


def test_settle_freezes_what_is_alive(unfrozen: None) -> None:
    keep = [[i] for i in range(10_000)]
    frozen = settle()
    assert frozen >= len(keep)
    # frozen objects are still freed by reference counting (the count can only shrink
    # by what dies meanwhile), and the collector no longer sees them
    assert gc.get_freeze_count() <= frozen
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(x) in tracked for x in keep[:100])
    more = [[i] for i in range(1_000)]
    assert all(id(x) in {id(o) for o in gc.get_objects()} for x in more[:10])  # seen
    settle(collect=False)
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(x) in tracked for x in more)


async def test_a_server_freezes_its_heap_at_start_and_after_a_new_model_loads(
        unfrozen: None, tmp_path: Path, store: Database, trained: Trained) -> None:
    settings = make_settings(tmp_path, gc_freeze=True)
    Registry.from_settings(settings, store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    app = create_app(settings, ProjectFile(), store=store)
    async with app.router.lifespan_context(app):
        at_start = gc.get_freeze_count()
        assert at_start > 10_000  # the app, its libraries, the model
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            r = await c.post("/v1/models/credit/predict", json=record(trained.frame, 0))
            assert r.status_code == 200
        Registry.from_settings(settings, store).register(
            "credit", trained.model2_path, reference=trained.reference_path, label_column="y")
        store.deployments.append_deployment("credit", {"routes": {"v2": 100.0}}, "test")
        import asyncio

        for _ in range(100):  # the poller loads v2, then freezes its objects too
            await asyncio.sleep(0.05)
            if "v2" in app.state.rampup.runtime.models["credit"].versions \
                    and gc.get_freeze_count() > at_start:
                break
        assert "v2" in app.state.rampup.runtime.models["credit"].versions
        assert gc.get_freeze_count() > at_start


async def test_the_default_is_on_and_tests_turn_it_off() -> None:
    from rampup.config import Settings

    assert Settings.model_fields["gc_freeze"].default is True
