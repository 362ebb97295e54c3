"""The demo's load generator against a real server: uvicorn on a free port in a thread."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from pydantic import SecretStr

from rampup.config import Settings
from rampup.errors import ValidationError
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.data import FEATURES, LABEL, LoanGenerator
from rampup_demo.runner import BackgroundServer
from rampup_demo.traffic import LatencySample, drive, generator_source
from rampup_demo.train import train_model

MODEL = "loan-default"
QUIET: dict[str, Any] = {"label_fraction": 0.0, "event_rates": {}, "bad_fraction": 0.0}


@dataclass
class Live:
    url: str
    store: Database


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("traffic")
    frame = LoanGenerator(11).sample(1500)
    joblib.dump(train_model(frame, seed=11), root / "model.joblib")
    frame[[*FEATURES, LABEL]].to_parquet(root / "reference.parquet", index=False)
    settings = Settings(project_dir=root, database_url=f"sqlite:///{root / 'rampup.db'}",
                        admin_token=SecretStr("t"), predict_token=None,
                        log_flush_interval=0.02)
    store = Database.open(settings.resolved_database_url)
    Registry.from_settings(settings, store).register(
        MODEL, root / "model.joblib", reference=root / "reference.parquet", label_column=LABEL)
    server = BackgroundServer(create_app(settings, ProjectFile()), port=0).start()
    yield Live(server.url, store)
    server.stop()
    store.close()


def rows(seed: int, n: int = 400) -> list[dict[str, Any]]:
    return LoanGenerator(seed).records(n)


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``check()`` (the log writer flushes every 20 ms here)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def logged(store: Database, since: float) -> list[dict[str, Any]]:
    return [r for chunk in store.predictions.iter_predictions(MODEL, since=since) for r in chunk]


def key(inputs: dict[str, Any]) -> str:
    return json.dumps({k: inputs[k] for k in FEATURES}, sort_keys=True)


async def test_stops_after_max_requests_and_logs_them(live: Live) -> None:
    since = time.time()
    stats = await drive(live.url, MODEL, rows(1), rate_per_s=200, max_requests=40,
                        duration_s=30, **QUIET)
    # 40 sent of the 6,000 a 30 s run at 200/s would send: the count ended it
    assert (stats.sent, stats.ok, stats.client_errors, stats.server_errors) == (40, 40, 0, 0)
    assert stats.p50_ms is not None
    assert stats.p99_ms is not None
    assert 0 < stats.p50_ms <= stats.p99_ms
    wait_for(lambda: len(logged(live.store, since)) >= 40)
    keys = {r["request_key"] for r in logged(live.store, since)}
    assert keys
    assert all(k.startswith("user-") for k in keys)


async def test_stops_after_duration_at_the_target_rate(live: Live) -> None:
    # Behaviour only (how close the rate comes is benchmarks/loadtest.py's business): the
    # run lasts its duration and never sends faster than asked, however loaded the machine
    stats = await drive(live.url, MODEL, rows(2), rate_per_s=20, duration_s=1.0, **QUIET)
    assert stats.elapsed_s >= 0.9
    assert 1 <= stats.sent <= 21
    assert stats.achieved_rate == pytest.approx(stats.sent / stats.elapsed_s)


async def test_labels_arrive_later_and_join_their_predictions(live: Live) -> None:
    source = rows(3)
    truth = {key(r): r[LABEL] for r in source}
    since = time.time()
    stats = await drive(live.url, MODEL, source, rate_per_s=20, duration_s=2.0,
                        label_fraction=1.0, label_delay_s=(0.3, 0.6), event_rates={},
                        bad_fraction=0.0, send_pending_labels=False)
    assert stats.labels_sent >= 1
    assert stats.labels_pending > 0  # the last ones were not due yet when the run ended
    assert stats.labels_sent + stats.labels_pending == stats.ok
    wait_for(lambda: len(logged(live.store, since)) >= stats.ok)
    joined = [r for r in logged(live.store, since) if r["label"] is not None]
    assert len(joined) == stats.labels_sent
    for r in joined:
        assert r["labeled_at"] - r["ts"] >= 0.25  # sent after the delay, not with the answer
        assert r["label"] == truth[key(json.loads(r["inputs"]))]  # the row's true label


async def test_pending_labels_are_sent_at_the_end_without_waiting(live: Live) -> None:
    # labels due in an hour or two: the run ends long before, sending them at once
    stats = await drive(live.url, MODEL, rows(4), rate_per_s=100, max_requests=30,
                        label_fraction=1.0, label_delay_s=(3600, 7200), event_rates={},
                        bad_fraction=0.0)
    assert stats.elapsed_s < 3600
    assert stats.labels_sent == stats.ok == 30
    assert stats.labels_pending == 0


async def test_bad_requests_get_422_and_events_are_recorded(live: Live) -> None:
    since = time.time()
    stats = await drive(live.url, MODEL, rows(5), rate_per_s=100, max_requests=40,
                        bad_fraction=0.3, label_fraction=0.0, event_rates={"clicked": 1.0},
                        seed=3)
    assert stats.bad_sent > 0
    assert stats.bad_rejected == stats.bad_sent == stats.client_errors
    assert stats.server_errors == stats.transport_errors == stats.unexpected_errors == 0
    assert stats.ok == 40 - stats.bad_sent
    assert stats.events_sent == stats.ok
    wait_for(lambda: len(logged(live.store, since)) >= stats.ok)
    first = logged(live.store, since)[0]
    assert [(f.kind, f.name) for f in live.store.feedback.list_feedback(first["id"])] == [
        ("event", "clicked")]


async def test_stop_event_and_a_dry_source_end_the_run(live: Live) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    stats = await drive(live.url, MODEL, generator_source(LoanGenerator(6)), rate_per_s=50,
                        duration_s=30, stop=stop, **QUIET)
    assert stop.is_set()  # the stop event ended it, not the 30 s duration or the source
    assert stats.elapsed_s < 30
    stats = await drive(live.url, MODEL, rows(7, n=5), rate_per_s=100, max_requests=100,
                        **QUIET)
    assert stats.sent == stats.ok == 5


async def test_progress_is_reported(live: Live) -> None:
    seen: list[int] = []
    await drive(live.url, MODEL, rows(8), rate_per_s=100, max_requests=10,
                on_progress=lambda s: seen.append(s.sent), **QUIET)
    assert seen
    assert seen[-1] == 10
    assert seen == sorted(seen)


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://example.com",
                                 "ftp://127.0.0.1:8000"])
async def test_only_this_machine_is_a_target(url: str) -> None:
    with pytest.raises(ValidationError, match="only targets this machine"):
        await drive(url, MODEL, rows(9, n=1), rate_per_s=1, max_requests=1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "needs a bound"),
    ({"max_requests": 1, "concurrency": 0}, "concurrency"),
    ({"max_requests": 1, "label_delay_s": (5.0, 1.0)}, "label_delay_s"),
])
async def test_bad_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        await drive("http://127.0.0.1:9", MODEL, [], rate_per_s=1, **kwargs)


def test_latency_sample_matches_numpy() -> None:
    values = np.random.default_rng(0).lognormal(1.0, 0.7, 5000)
    small = LatencySample(capacity=10_000, recent=100, seed=1)
    for v in values:
        small.add(float(v))
    assert small.quantile(0.99) == pytest.approx(np.quantile(values, 0.99))
    assert small.recent_quantile(0.5) == pytest.approx(np.quantile(values[-100:], 0.5))
    sampled = LatencySample(capacity=1000, seed=1)
    for v in values:
        sampled.add(float(v))
    assert sampled.count == 5000
    assert sampled.quantile(0.5) == pytest.approx(np.quantile(values, 0.5), rel=0.1)
    assert LatencySample().quantile(0.5) is None


def test_generator_source_continues_the_stream() -> None:
    stream = generator_source(LoanGenerator(3), chunk=4)
    first = [next(stream) for _ in range(10)]
    assert first == LoanGenerator(3).records(10)


def test_background_server_stop_is_idempotent(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    server = BackgroundServer(create_app(settings), port=0).start()
    server.stop()
    server.stop()
