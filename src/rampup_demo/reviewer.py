"""A simulated human reviewer for the demo: works through a model's review queue.

:func:`review` claims items one by one over the HTTP API (``next`` → ``decide``), takes
a seeded, random time per item, and answers the truth with probability ``accuracy``
(else another label). The truth is ``truth(item)`` when given (e.g. the demo's known
outcome by request id), otherwise the model's suggestion. It stops after ``max_items``,
after ``duration`` seconds, when ``stop`` is set, or — with ``until_empty`` — when the
queue is empty. :func:`status` returns one line of the model's automation metrics.

How the demo uses it (a model at ``partial`` in the demo project)::

    stats = await review(url, "loan-default", accuracy=0.95, seconds_per_item=(0.05, 0.2),
                         duration=60, seed=7)
    print(await status(url, "loan-default"))
    # loan-default [partial] automated 81.3% · queue 4 · wait p50 2 s · audited accuracy -

>>> pick_label(1, [0, 1, "uncertain"], accuracy=1.0, rng=np.random.default_rng(0))
1
>>> pick_label(1, [0, 1, "uncertain"], accuracy=0.0, rng=np.random.default_rng(0))
0
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from rampup.automation.report import status_line

UNCERTAIN = "uncertain"


@dataclass
class ReviewerStats:
    decided: int = 0
    errors: int = 0  # labels deliberately different from the truth
    conflicts: int = 0  # items another reviewer took first (409)

    def line(self) -> str:
        return f"reviewed {self.decided} items ({self.errors} deliberately wrong)"


def pick_label(truth: Any, choices: Sequence[Any] | None, accuracy: float,
               rng: np.random.Generator) -> Any:
    """The truth with probability ``accuracy``, else another (non-uncertain) choice."""
    if rng.random() < accuracy or not choices:
        return truth
    others = [c for c in choices if c != truth and c != UNCERTAIN]
    return others[int(rng.integers(len(others)))] if others else truth


async def review(url: str, model: str, *, reviewer: str = "sim-reviewer",
                 accuracy: float = 0.95, seconds_per_item: tuple[float, float] = (0.05, 0.2),
                 seed: int = 0, truth: Callable[[dict[str, Any]], Any] | None = None,
                 max_items: int | None = None, duration: float | None = None,
                 until_empty: bool = False, stop: asyncio.Event | None = None,
                 token: str | None = None, idle_wait: float = 0.25,
                 client: httpx.AsyncClient | None = None,
                 stats: ReviewerStats | None = None) -> ReviewerStats:
    """Work through ``model``'s queue on the server at ``url`` (or through ``client``),
    counting into ``stats`` (a new one by default) as it goes."""
    rng = np.random.default_rng(seed)
    stats = ReviewerStats() if stats is None else stats
    headers = {"x-reviewer": reviewer}
    if token:
        headers["authorization"] = f"Bearer {token}"
    deadline = None if duration is None else time.monotonic() + duration
    base = f"/v1/models/{model}/review"
    own = client is None
    c = client or httpx.AsyncClient(base_url=url, timeout=10.0)
    try:
        while max_items is None or stats.decided < max_items:
            if (stop is not None and stop.is_set()) or (
                    deadline is not None and time.monotonic() >= deadline):
                break
            r = await c.post(f"{base}/next", headers=headers)
            r.raise_for_status()
            data = r.json()
            item = data["item"]
            if item is None:
                if until_empty:
                    break
                await asyncio.sleep(idle_wait)
                continue
            lo, hi = seconds_per_item
            await asyncio.sleep(float(rng.uniform(lo, hi)))
            suggestion = (item.get("suggestion") or {}).get("prediction")
            right = truth(item) if truth is not None else suggestion
            if right is None:  # nothing to go on: any real label
                options = [x for x in data["choices"] or [] if x != UNCERTAIN]
                right = options[int(rng.integers(len(options)))] if options else UNCERTAIN
            label = pick_label(right, data["choices"], accuracy, rng)
            r = await c.post(f"{base}/items/{item['id']}/decide", headers=headers,
                             json={"label": label})
            if r.status_code == 409:
                stats.conflicts += 1
                continue
            r.raise_for_status()
            stats.decided += 1
            stats.errors += label != right
    finally:
        if own:
            await c.aclose()
    return stats


async def status(url: str, model: str, *, token: str | None = None,
                 client: httpx.AsyncClient | None = None) -> str:
    """One line of the model's automation metrics, e.g. for the demo's display."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    own = client is None
    c = client or httpx.AsyncClient(base_url=url, timeout=10.0)
    try:
        r = await c.get(f"/v1/models/{model}/automation", headers=headers)
        r.raise_for_status()
        return status_line(r.json())
    finally:
        if own:
            await c.aclose()
