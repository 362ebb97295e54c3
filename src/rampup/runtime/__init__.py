"""Running background workers safely: the supervisor (restart with backoff, heartbeat,
readiness), leader election for leader-only loops, per-record isolation and the dead-letter
place.

Pure parts (:mod:`.backoff`, :mod:`.health`, :mod:`.faults`, :mod:`.isolate`) hold the
decisions; :mod:`.supervisor` and :mod:`.deadletters` are the thin I/O around them.
"""

from rampup.runtime.backoff import Backoff
from rampup.runtime.deadletters import DeadLetters
from rampup.runtime.faults import classify, describe, safe_text
from rampup.runtime.health import WorkerHealth
from rampup.runtime.isolate import map_isolated, write_isolated
from rampup.runtime.leader import Leader, LeaderLoop
from rampup.runtime.supervisor import Supervised, Supervisor, WorkerContext

__all__ = ["Backoff", "DeadLetters", "Leader", "LeaderLoop", "Supervised", "Supervisor",
           "WorkerContext", "WorkerHealth", "classify", "describe", "map_isolated", "safe_text",
           "write_isolated"]
