"""Model versions that misbehave on purpose (fault injection for rollout tests).

Inputs are ``{"x": float}``; the truth is ``x > 0.5``. Every model returns a class and a
confidence, like a classifier.
"""

from __future__ import annotations

import time
from typing import Any


def _decide(records: list[dict[str, Any]]) -> list[int]:
    return [int(float(r["x"]) > 0.5) for r in records]


class Healthy:
    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        return _decide(records)


class Flaky:
    """Fails for 20% of inputs (those whose third decimal digit is 0 or 5)."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        for r in records:
            if round(float(r["x"]) * 1000) % 5 == 0:
                raise RuntimeError("injected failure")
        return _decide(records)


class Slow:
    """150 ms slower per call (well above the stalls a loaded test machine adds to the
    baseline's tail, so the verdict does not depend on the machine)."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        time.sleep(0.15)
        return _decide(records)


class Inaccurate:
    """Wrong on every input between 0.2 and 0.8 (about 60% of them)."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        out = _decide(records)
        return [1 - y if 0.2 < float(r["x"]) < 0.8 else y for y, r in zip(out, records,
                                                                            strict=True)]


class Hangs:
    """Never answers in time."""

    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        time.sleep(3.0)
        return _decide(records)


class Raises:
    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        raise RuntimeError("always fails")


class Candidate(Healthy):
    """An equally good new version (a different artifact from the baseline)."""


class Successor(Healthy):
    """Another equally good version (a third artifact: rollouts after rollouts)."""
