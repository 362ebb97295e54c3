"""Fakes for alert tests: an in-memory MetricSource, a clock to move by hand, and a real
webhook receiver (an HTTP server on 127.0.0.1 in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class FakeSource:
    """A MetricSource over values set by the test: ``set(model, metric, value)``; series
    from ``history``. Records every read."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str | None], float | None] = {}
        self.history: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
        self.reads: list[dict[str, Any]] = []
        self.fail: set[str] = set()

    def set(self, model: str, metric: str, value: float | None,
            version: str | None = None) -> None:
        self.values[(model, metric, version)] = value

    def value(self, model: str, metric: str, *, version: str | None = None,
              role: str = "answer", stage: str | None = None, window_s: float = 300.0,
              now: float | None = None) -> float | None:
        self.reads.append({"model": model, "metric": metric, "version": version, "role": role,
                           "stage": stage, "window_s": window_s, "now": now})
        if metric in self.fail:
            raise RuntimeError(f"cannot read {metric}")
        return self.values.get((model, metric, version))

    def series(self, model: str, metric: str, *, version: str | None = None,
               role: str = "answer", stage: str | None = None, since: float,
               until: float | None = None, step_s: float = 60.0
               ) -> list[tuple[float, float | None]]:
        return [(t, v) for t, v in self.history.get((model, metric), [])
                if t >= since and (until is None or t < until)]


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@dataclass
class Receiver:
    """What the test webhook server saw, and how it should answer next."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many requests first
    status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"expected {n} webhook calls, got {len(self.received)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if rec.delay:
                time.sleep(rec.delay)
            with rec.lock:
                failing = rec.fail_next > 0
                if failing:
                    rec.fail_next -= 1
                else:
                    rec.received.append(json.loads(body))
                    rec.headers.append(dict(self.headers.items()))
            status = 503 if failing else rec.status
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def clock() -> Clock:
    return Clock()
