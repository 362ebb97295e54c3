"""Outages answered honestly (issue 14): a PostgreSQL cluster of the test's own is stopped
for 20 s under load and started again. Predictions keep their 200 and no acknowledged row
is lost; feedback answers 503 with Retry-After (never 500); the server recovers by
itself (feedback 200 and /readyz 200 again, no restart of the process)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.serving.state import AppState
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.conftest import IN_CI
from tests.pg_cluster import PgCluster, bin_dir
from tests.serving.conftest import Trained, make_settings, record, trained

__all__ = ["trained"]
OUTAGE_S = 20.0
PREDICTORS = 4


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    bindir = bin_dir()
    if bindir is None:
        if IN_CI:
            pytest.fail("the outage test needs PostgreSQL's server binaries (initdb, "
                        "postgres): apt-get install postgresql", pytrace=False)
        pytest.skip("PostgreSQL server binaries not installed")
    pg = PgCluster(bindir).init()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


class Load:
    """Predictions from a few concurrent clients and feedback for what they got back."""

    def __init__(self, client: httpx.AsyncClient, trained: Trained) -> None:
        self.client = client
        self.trained = trained
        self.stop = asyncio.Event()
        self.acked: list[str] = []
        self.labels: dict[str, int] = {}
        self.predict_status: Counter[int] = Counter()
        self.feedback: list[tuple[float, int, str | None]] = []  # (time, status, retry-after)

    async def predictor(self, k: int) -> None:
        i = k
        n = len(self.trained.frame)
        while not self.stop.is_set():
            row = i % n
            r = await self.client.post("/v1/models/credit/predict",
                                       json=record(self.trained.frame, row))
            self.predict_status[r.status_code] += 1
            if r.status_code == 200:
                rid = r.json()["request_id"]
                self.acked.append(rid)
                self.labels[rid] = int(self.trained.frame["y"].iloc[row])
            i += PREDICTORS
            await asyncio.sleep(0.005)

    async def feedbacker(self) -> None:
        sent = 0
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
            if len(self.acked) <= sent:
                continue
            batch = self.acked[sent:sent + 5]
            sent += len(batch)
            r = await self.client.post("/v1/models/credit/feedback", json=[
                {"request_id": rid, "label": self.labels[rid]} for rid in batch])
            self.feedback.append((time.monotonic(), r.status_code,
                                  r.headers.get("retry-after")))

    def statuses_between(self, t0: float, t1: float) -> Counter[int]:
        return Counter(s for t, s, _ in self.feedback if t0 <= t < t1)


@pytest.mark.slow
async def test_postgres_outage_under_load(cluster: PgCluster, tmp_path: Path,
                                          trained: Trained) -> None:
    store = Database.open(cluster.url)
    settings = make_settings(tmp_path, database_url=cluster.url, controller=True,
                             controller_interval=0.5, alerts_interval=1.0,
                             worker_restart_initial=0.1, worker_restart_max=2.0)
    Registry.from_settings(settings, store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    app = create_app(settings, ProjectFile(), store=store)
    server = BackgroundServer(app).start()
    state: AppState = app.state.rampup
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60.0) as client:
            load = Load(client, trained)
            tasks = [asyncio.create_task(load.predictor(k)) for k in range(PREDICTORS)]
            tasks.append(asyncio.create_task(load.feedbacker()))
            await asyncio.sleep(3.0)
            before_outage = len(load.acked)
            assert load.statuses_between(0, time.monotonic()) == Counter(
                {200: len(load.feedback)})

            t_down = time.monotonic()
            await asyncio.to_thread(cluster.stop)  # by PID, under load
            await asyncio.sleep(OUTAGE_S)
            during = len(load.acked) - before_outage
            ready_down = await client.get("/readyz")
            await asyncio.to_thread(cluster.start)
            t_up = time.monotonic()

            # recovers by itself: feedback accepted again, ready again
            deadline = time.monotonic() + 120
            while not any(s == 200 for t, s, _ in load.feedback if t > t_up + 1.0):
                assert time.monotonic() < deadline, "feedback did not recover"
                await asyncio.sleep(0.1)
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, (await client.get("/readyz")).text
                await asyncio.sleep(0.2)
            load.stop.set()
            await asyncio.gather(*tasks)

        assert await asyncio.to_thread(state.writer.flush, 120.0)
        # predictions kept their 200 throughout
        assert set(load.predict_status) == {200}, load.predict_status
        assert during > 0  # the outage really was under load
        # no acknowledged row lost
        stored: set[str] = set()
        for i in range(0, len(load.acked), 1000):
            stored |= await asyncio.to_thread(store.predictions.existing_prediction_ids,
                                              load.acked[i:i + 1000])
        assert len(stored) == len(load.acked)
        # feedback: 503 with Retry-After while down, never a 500
        down = load.statuses_between(t_down + 1.0, t_up)
        assert set(down) == {503}, down
        assert all(ra == str(settings.store_retry_after)
                   for _, s, ra in load.feedback if s == 503)
        assert 500 not in Counter(s for _, s, _ in load.feedback)
        assert ready_down.status_code == 503
        assert ready_down.json()["store"] == "unreachable"
        assert state.writer.stats.dropped == 0
        assert state.supervisor.down() == {}
        # every label sent and accepted is stored
        accepted = sum(1 for _, s, _ in load.feedback if s == 200)
        report = (f"acknowledged {len(load.acked)} predictions ({during} during the "
                  f"{OUTAGE_S:.0f} s outage), all stored; feedback requests: "
                  f"{dict(Counter(s for _, s, _ in load.feedback))} "
                  f"({accepted} accepted); writer retries {state.writer.stats.retries}")
        print(report)
        if os.environ.get("RAMPUP_OUTAGE_REPORT"):
            Path(os.environ["RAMPUP_OUTAGE_REPORT"]).write_text(report + "\n")
    finally:
        server.stop()
        store.close()
