"""The health of one supervised worker as a small state machine. Pure: every method
takes ``now``; the supervisor's runner calls them, ``/readyz`` and ``/metrics`` read them.

States: ``starting`` (first run, not yet beating) → ``running`` (beats) →
``backoff`` (it died; waiting to restart) → ``restarting`` (restarted, no beat yet) →
``running`` ...; ``stopped`` once the server stops it. A worker is *down* while in
``backoff`` or ``restarting``, or when it has not beaten for ``stall_after`` seconds.
A first start that has not beaten yet is not down: the server is still starting.

>>> h = WorkerHealth("log-writer", stall_after=30.0)
>>> h.started(0.0); h.beat(0.1); h.down_reason(1.0) is None
True
>>> h.crashed(5.0, "RuntimeError: boom", restart_at=5.5); h.down_reason(5.2)
'died 0.2 s ago (RuntimeError: boom); restart 1 in 0.3 s'
>>> h.started(5.5); h.down_reason(5.6)
'restarted after RuntimeError: boom; not beating yet'
>>> h.beat(5.7); h.down_reason(5.8) is None, h.restarts
(True, 1)
>>> h.down_reason(40.0)
'no heartbeat for 34.3 s (stalled?)'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATES = ("starting", "running", "backoff", "restarting", "stopped")


@dataclass
class WorkerHealth:
    name: str
    stall_after: float | None = None  # None: never called stalled (long jobs)
    state: str = "starting"
    restarts: int = 0
    crashes: int = 0
    streak: int = 0  # consecutive crashes (see Backoff.next_streak)
    started_at: float | None = None
    last_beat: float | None = None
    down_since: float | None = None
    restart_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    _first_start: float | None = field(default=None, repr=False)

    def started(self, now: float) -> None:
        """A run begins (the first one, or a restart)."""
        if self._first_start is None:
            self._first_start = now
            self.state = "starting"
        else:
            self.restarts += 1
            self.state = "restarting"
        self.started_at = now
        self.restart_at = None

    def beat(self, now: float) -> None:
        """The worker finished a round of its loop (or is waiting, alive)."""
        self.last_beat = now
        if self.state in ("starting", "restarting"):
            self.state = "running"
            self.down_since = None

    def crashed(self, now: float, error: str, *, restart_at: float) -> None:
        """The run ended with ``error``; the runner restarts it at ``restart_at``."""
        self.crashes += 1
        self.state = "backoff"
        self.last_error = error
        self.last_error_at = now
        self.restart_at = restart_at
        if self.down_since is None:
            self.down_since = now

    def stopped(self) -> None:
        self.state = "stopped"
        self.restart_at = None

    def ran_for(self, now: float) -> float:
        return 0.0 if self.started_at is None else now - self.started_at

    def heartbeat_age(self, now: float) -> float | None:
        ref = self.last_beat if self.last_beat is not None else self.started_at
        return None if ref is None else max(0.0, now - ref)

    def down_reason(self, now: float) -> str | None:
        """Why this worker is down now, or None when it is up (or stopped on purpose)."""
        if self.state == "backoff":
            ago = now - (self.last_error_at if self.last_error_at is not None else now)
            wait = max(0.0, (self.restart_at if self.restart_at is not None else now) - now)
            return (f"died {ago:.1f} s ago ({self.last_error}); restart {self.restarts + 1} "
                    f"in {wait:.1f} s")
        if self.state == "restarting":
            return f"restarted after {self.last_error}; not beating yet"
        if self.state == "running" and self.stall_after is not None:
            age = self.heartbeat_age(now)
            if age is not None and age > self.stall_after:
                return f"no heartbeat for {age:.1f} s (stalled?)"
        return None

    def to_dict(self, now: float) -> dict[str, Any]:
        age = self.heartbeat_age(now)
        return {"state": self.state, "up": self.down_reason(now) is None,
                "down_reason": self.down_reason(now), "restarts": self.restarts,
                "heartbeat_age_s": None if age is None else round(age, 3),
                "last_error": self.last_error, "down_since": self.down_since}
