"""The demo's alarm bell: prints every alert that starts firing or resolves, as it happens.

The server's alert evaluator writes each state change to the store's alert history;
:class:`AlarmWatcher` reads the new rows every second and prints the firing and resolved
ones with the rule's message (for drift rules the message names the features that moved
and by how much). :meth:`AlarmWatcher.wait_for` lets the story wait for a rule to reach a
state, and prints what got it there before it returns, so the story's next line comes
after the alarm it follows.

>>> import io
>>> from rich.console import Console
>>> console = Console(file=io.StringIO(), record=True, width=100, color_system=None)
>>> show_alarm(console, {"rule": "latency-slo", "state": "firing", "severity": "warning",
...                      "message": "latency_p99 = 161 over 30s (alarm when > 100)"}, 0.0)
>>> "ALARM latency-slo" in console.export_text()
True
>>> show_alarm(console, {"rule": "x", "state": "resolved",
...                      "message": "feature[credit_score].missing_fraction = 0.01"}, 0.0)
>>> "feature[credit_score].missing_fraction" in console.export_text()
True
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from rampup.store import Database

POLL_S = 1.0
SHOWN = ("firing", "resolved")


def show_alarm(console: Console, event: Mapping[str, Any], t0: float) -> None:
    """One line per alarm transition; ``t0`` is the demo's start (for the clock column)."""
    ts = float(event.get("ts") or time.time())
    clock = time.strftime("%H:%M:%S", time.localtime(ts))
    # metric names hold brackets (feature[income]...): escape them from rich's markup
    rule, message = escape(str(event.get("rule", "?"))), escape(str(event.get("message") or ""))
    if event.get("state") == "firing":
        colour = "red" if event.get("severity") == "critical" else "yellow"
        console.print(f"[{colour}]{clock} ALARM {rule}[/] ({event.get('severity')}): "
                      f"{message}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[green]{clock} resolved {rule}[/]: {message}", highlight=False,
                      soft_wrap=True)


class AlarmWatcher:
    """Follows ``model``'s alert history from ``since`` on (see the module doc)."""

    def __init__(self, store: Database, console: Console, model: str, *,
                 since: float | None = None, poll_s: float = POLL_S) -> None:
        self.store, self.console, self.model = store, console, model
        self.since = time.time() if since is None else since
        self.poll_s = poll_s
        self.t0 = self.since
        self._last_id = 0
        self._lock = threading.Lock()
        self.seen: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        """New firing/resolved events since the last poll (printed), oldest first. Safe
        from several threads at once (each event is printed once)."""
        with self._lock:
            rows = self.store.alerts.list_alert_events(self.model, since=self.since,
                                                       kinds=["state"], limit=None,
                                                       oldest_first=True)
            new = [r for r in rows if int(r["id"]) > self._last_id]
            if new:
                self._last_id = max(int(r["id"]) for r in new)
            shown = [r for r in new if r.get("state") in SHOWN]
            for event in shown:
                show_alarm(self.console, event, self.t0)
            self.seen += shown
            return shown

    def state(self, rule: str) -> str:
        doc = self.store.alerts.alert_states(self.model).get((self.model, rule))
        return str(doc.get("state", "ok")) if doc else "ok"

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set (one last poll then)."""
        while not stop.is_set():
            await asyncio.to_thread(self.poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)
        await asyncio.to_thread(self.poll)

    async def wait_for(self, rules: list[str], state: str, timeout_s: float,
                       stop: asyncio.Event | None = None) -> dict[str, float]:
        """Wait until each of ``rules`` has been in ``state`` (``firing``/``resolved``
        counts ``ok`` too) since this call; returns rule → seconds it took. Rules that did
        not get there within ``timeout_s`` are missing from the result."""
        t0 = time.monotonic()
        wanted = {"resolved": {"resolved", "ok"}}.get(state, {state})
        got: dict[str, float] = {}
        while len(got) < len(rules) and time.monotonic() - t0 < timeout_s:
            if stop is not None and stop.is_set():
                break
            states = await asyncio.to_thread(self.store.alerts.alert_states, self.model)
            for rule in rules:
                doc = states.get((self.model, rule)) or {}
                if rule not in got and doc.get("state", "ok") in wanted:
                    got[rule] = time.monotonic() - t0
            if len(got) < len(rules):
                await asyncio.sleep(0.5)
        # print the transitions that got them there before the story says what follows
        # (else "the feed is repaired" could come before the alarm that caught the break)
        await asyncio.to_thread(self.poll)
        return got
