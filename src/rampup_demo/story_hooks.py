"""The story side of a live demo run (:class:`rampup_demo.runner._Run` and the scenarios
built on it): the chapters' protocol, playing them in turn, cutting the current one
short when the traffic stops first, the closing summary, and the live status line
printed between chapters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

import httpx
from rich.console import Console

from rampup_demo import display, epilogue
from rampup_demo.alarms import AlarmWatcher
from rampup_demo.reviewer import ReviewerStats
from rampup_demo.reviewer import status as automation_status
from rampup_demo.rollout_tour import Tour
from rampup_demo.scenario import Scenario
from rampup_demo.traffic import TrafficStats


class Chapter(Protocol):
    """A part of the demo's story, run while the traffic flows."""

    async def run(self) -> Any: ...

    def cut(self) -> str | None:
        """Undo what an unfinished run left behind; a note to print, if any."""


class StoryHooks:
    """The run's story hooks (mixed into the run, which sets these attributes); a
    scenario overrides :meth:`_epilogue` and :meth:`_world`."""

    console: Console
    url: str
    model: str
    duration: float | None
    stats: TrafficStats
    chapters: list[Chapter]
    current: Chapter | None
    tour: Tour | None
    watcher: AlarmWatcher | None
    reviewed: ReviewerStats
    scenario: Scenario
    started: float  # time.perf_counter() at the start of the demo

    async def _story(self) -> None:
        for chapter in self.chapters:
            self.current = chapter
            await chapter.run()
        self.current = None
        if self.watcher is not None and len(self.chapters) > 1:
            self.console.rule("[bold]the end[/]")
            self.console.print(await self._epilogue(self.watcher), highlight=False,
                               soft_wrap=True)
            until = ("until Ctrl-C" if self.duration is None
                     else f"for the rest of the {self.duration:g} s")
            self.console.print(f"Traffic goes on {until}: the dashboard and the commands "
                               "above keep working.", highlight=False)

    async def _epilogue(self, watcher: AlarmWatcher) -> str:
        """The closing summary: this run's rollouts, alarms, retraining runs and reviews."""
        await asyncio.to_thread(watcher.poll)  # every transition printed before the end
        store, since = watcher.store, watcher.since
        rollouts = await asyncio.to_thread(store.rollouts.list_rollouts, self.model, limit=50)
        runs = await asyncio.to_thread(store.retrain.list_retrain_runs, self.model, since=since)
        queued = None
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            async with httpx.AsyncClient(base_url=self.url, trust_env=False,
                                         timeout=10.0) as client:
                r = await client.get(f"/v1/models/{self.model}/automation")
                queued = int(r.json()["queue_length"])
        return epilogue.summary(
            rollouts=[r for r in rollouts if float(r["created_at"]) >= since],
            alarms=watcher.seen, runs=runs, reviewed=self.reviewed.decided, queued=queued,
            seconds=time.perf_counter() - self.started)

    async def _end_story(self, story: asyncio.Task[Any]) -> None:
        """Surface the story's error, or cut it cleanly when the traffic stopped first."""
        if story.done():
            story.result()
            return
        story.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await story
        if self.current is not None:
            note = await asyncio.to_thread(self.current.cut)
            if self.current is self.tour:
                note = note or "rollout tour cut short"
            if note:
                self.console.print(f"[yellow]{note}[/]", highlight=False)

    def _world(self) -> str:
        return self.scenario.describe()

    async def _status(self, client: httpx.AsyncClient) -> str:
        depth = routes = "?"
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            body = (await client.get("/readyz")).json()
            depth = str(body["prediction_log"]["queue_depth"])
            models = (await client.get("/v1/models")).json()["models"]
            routes = ", ".join(display.routes_text(m) for m in models
                               if m["name"] == self.model)
        line = display.status_line(self.stats, depth, routes or "?")
        firing: list[str] = []
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            alerts = (await client.get(f"/v1/models/{self.model}/alerts")).json()["alerts"]
            firing = [a["name"] for a in alerts if a["state"] == "firing"]
        world = self._world()
        if firing or world != "healthy":
            line += f" · world: {world} · firing: {', '.join(firing) or 'none'}"
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            line += f"\n          {await automation_status(self.url, self.model, client=client)}"
        return line
