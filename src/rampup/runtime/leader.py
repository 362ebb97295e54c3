"""Leader election: only one process runs each leader-only loop (rollout controller, alert
evaluator, retraining, retention) through :class:`LeaderLoop`. PostgreSQL: a session-level
advisory lock held on a dedicated connection. SQLite: an exclusive ``flock`` on a file next
to the database (one machine only)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from rampup.errors import RampupError
from rampup.runtime.faults import classify, describe
from rampup.runtime.supervisor import Supervised, Supervisor, WorkerContext
from rampup.store import Database

log = logging.getLogger("rampup.rollout")

LOCK_KEY = 0x72616D71  # distinct from the migration lock


class Leader:
    def __init__(self, store: Database, name: str = "controller") -> None:
        self.store = store
        self.name = name
        self._conn: sa.Connection | None = None
        self._file: IO[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        if self.held:
            return self._still_held()
        if self.store.dialect == "postgresql":
            conn = self.store.engine.connect()
            if ":" not in self.name:
                # Advisory locks span the whole database: installations in different
                # schemas must elect separately.
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
                self.name = f"{self.name}:{schema}"
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k, :n)"),
                                    {"k": LOCK_KEY, "n": _name_key(self.name)}).scalar())
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        path = self._lock_path()
        f = open(path, "a+")  # noqa: SIM115 - kept open while leading
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return True

    def _still_held(self) -> bool:
        if self._conn is None:
            return True
        try:
            self._conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:  # connection lost: the lock went with it
            log.warning("lost the %s lock (connection dropped)", self.name)
            self._conn = None
            return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k, :n)"),
                                   {"k": LOCK_KEY, "n": _name_key(self.name)})
                self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _lock_path(self) -> Path:
        db = self.store.engine.url.database
        if not db or db == ":memory:":
            return Path(f"/tmp/rampup-{os.getuid()}-{self.name}.lock")  # noqa: S108
        return Path(f"{db}.{self.name}.lock")


def _name_key(name: str) -> int:
    return int(sum(ord(c) * 31**i for i, c in enumerate(name)) % 2_147_483_647)


class LeaderLoop:
    """Call ``tick`` every ``interval`` seconds as a supervised worker, but only while
    this process holds the leader lock ``name``.

    A pass that fails because the store is unreachable, or with a deliberate rampup
    error (a conflict: someone moved the thing first), is logged and the next pass
    retries. Anything else ends the worker: the supervisor restarts it with backoff
    (a new lock session) and ``/readyz`` names it meanwhile. Per-item isolation is the
    tick's own business (one rollout, rule or run must not stop the others).

    Used by the rollout controller, the alert evaluator and the retraining loop.
    """

    def __init__(self, store: Database, name: str, tick: Callable[[], object],
                 interval: float, on_stop: Callable[[float], object] | None = None, *,
                 worker: str | None = None, stall_after: float | None = None) -> None:
        self.store = store
        self.name = name
        self.worker = worker or name.split(":", 1)[0]
        self.tick = tick
        self.interval = interval
        self.on_stop = on_stop
        self.stall_after = stall_after
        self._handle: Supervised | None = None

    def start(self, supervisor: Supervisor | None = None) -> LeaderLoop:
        self._handle = (supervisor or Supervisor()).start(self.worker, self._run,
                                                          stall_after=self.stall_after)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._handle is not None:
            self._handle.stop(timeout)
            self._handle = None
        if self.on_stop is not None:
            self.on_stop(timeout)

    def _run(self, ctx: WorkerContext) -> None:
        leader = Leader(self.store, self.name)
        try:
            while not ctx.stopping:
                ctx.beat()
                try:
                    if leader.try_acquire():
                        self.tick()
                except RampupError as exc:
                    log.info("%s pass: %s; retrying next pass", self.worker, exc)
                except Exception as exc:
                    if classify(exc) != "transient":
                        raise
                    log.warning("%s pass failed (%s); retrying", self.worker, describe(exc))
                if ctx.wait(self.interval):
                    break
        finally:
            leader.release()
