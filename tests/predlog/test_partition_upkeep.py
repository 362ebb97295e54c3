"""The leader's partition upkeep in the real app on the real PostgreSQL: the
``log-partitions`` worker makes the configured number of partitions ahead; on SQLite
there is no such worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from tests.app_client import app_client

from rampup.config import Settings
from rampup.predlog.partitions import WORKER
from rampup.store import Database
from rampup.store import partitions as parts

DAY = 86_400


def days_ahead(store: Database) -> set[str]:
    return {p.name for p in store.partitions.list_partitions("feedback")}


@pytest.mark.postgres
async def test_the_leader_keeps_partitions_made_ahead(pg_url: str, tmp_path: Path) -> None:
    store = Database.open(pg_url)
    settings = Settings(project_dir=tmp_path, database_url=pg_url, controller=False,
                        log_partitions_ahead=6)
    now = time.time()
    wanted = {parts.partition_name("feedback", now - now % DAY + k * DAY) for k in range(7)}
    assert not wanted <= days_ahead(store)  # the migration made 3 ahead
    try:
        async with app_client(settings, store) as client:
            workers = client.app.state.rampup.supervisor  # type: ignore[attr-defined]
            assert WORKER in workers.health()
            deadline = time.monotonic() + 60
            while not wanted <= await asyncio.to_thread(days_ahead, store):
                assert time.monotonic() < deadline, "no partitions made ahead"
                await asyncio.sleep(0.05)
        tables = {p.name for p in store.partitions.list_partitions("predictions")}
        assert {n.replace("feedback", "predictions") for n in wanted} <= tables
    finally:
        store.close()


async def test_no_partition_worker_on_sqlite(sqlite_store: Database, tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, controller=False)
    async with app_client(settings, sqlite_store) as client:
        workers = client.app.state.rampup.supervisor  # type: ignore[attr-defined]
        assert WORKER not in workers.health()
