"""Partition upkeep: on PostgreSQL the leader keeps the prediction log's and feedback's
time partitions (:mod:`rampup.store.partitions`) created ahead of the clock, so the
current interval's rows never land in the default partition. Retention drops the old
ones (:mod:`rampup.security.retention`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rampup.host import WorkerHost
    from rampup.runtime.leader import LeaderLoop

LOCK_NAME = "partitions"
WORKER = "log-partitions"
UPKEEP_S = 600.0  # most seconds between passes (a pass is a catalog read when all exist)


def start_partitions(state: WorkerHost) -> LeaderLoop | None:
    """The leader's partition upkeep loop (None on SQLite or an unpartitioned store)."""
    from rampup.runtime.leader import LeaderLoop

    store = state.store
    if not store.partitions.partitioned():
        return None
    interval = state.settings.log_partition_interval
    ahead = state.settings.log_partitions_ahead

    def tick() -> list[str]:
        return store.partitions.ensure_partitions(time.time(), interval, ahead)

    return LeaderLoop(store, LOCK_NAME, tick, min(UPKEEP_S, interval / 4),
                      worker=WORKER).start(state.supervisor)
