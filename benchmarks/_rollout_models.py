"""Model versions for benchmarks/rollout.py, registered with the python flavor.

Inputs are ``{"x": float}``, the truth is ``x > 0.5``. Every version costs the same per
call, ``RAMPUP_BENCH_MODEL_MS`` (default 1 ms), then misbehaves its own way. Most burn that
much of their thread's CPU time in pure Python, so they hold the GIL as a small
scikit-learn pipeline does; ``Waits``/``WaitsTwin`` sleep instead, as native code that
releases the GIL (or a remote model) would. The file is copied into the artifact store
and imported from there, so it uses nothing but the standard library.
"""

from __future__ import annotations

import os
import time
from typing import Any

COST_S = float(os.environ.get("RAMPUP_BENCH_MODEL_MS", "1.0")) / 1000.0


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _decide(records: list[dict[str, Any]]) -> list[int]:
    _burn(COST_S * len(records))
    return [int(float(r["x"]) > 0.5) for r in records]


class Healthy:
    """The live version."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        return _decide(records)


class Twin(Healthy):
    """Another artifact that costs exactly what Healthy costs (the shadow)."""


class Waits:
    """Costs the same time without holding the GIL."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        time.sleep(COST_S * len(records))
        return [int(float(r["x"]) > 0.5) for r in records]


class WaitsTwin(Waits):
    """Another artifact that costs exactly what Waits costs (its shadow)."""


class Flaky:
    """Fails on 20% of inputs: those whose third decimal digit is 0 or 5."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        out = _decide(records)
        for r in records:
            if round(float(r["x"]) * 1000) % 5 == 0:
                raise RuntimeError("injected failure")
        return out


class Slow:
    """50 ms slower per call (waiting, as on a remote feature store: the GIL is free)."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        time.sleep(0.05)
        return _decide(records)
