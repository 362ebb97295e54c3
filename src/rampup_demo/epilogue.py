"""The demo's last word: "the story is over", with what happened and how long it took.

Built from what the store and the alarm watcher hold for this run (rows since the run
began), so the summary says what really happened, not what the script intended.

>>> text = summary(rollouts=[{"candidate": "v2", "state": "promoted", "created_at": 2.0},
...                          {"candidate": "v3", "state": "rolled_back", "created_at": 3.0}],
...                alarms=[{"rule": "latency-slo", "state": "firing"},
...                        {"rule": "latency-slo", "state": "resolved"}],
...                runs=[{"id": 1, "state": "rolled_out", "candidate": "v4"}],
...                reviewed=12, queued=3, seconds=421.4)
>>> print(text)
The story is over (7 min 1 s since the demo started).
  rollouts: v2 promoted, v3 rolled back
  alarms: latency-slo fired once (resolved)
  retraining: run #1 rolled out v4
  review queue: 12 decided by the simulated reviewer, 3 waiting
>>> duration_text(59.6), duration_text(61.0)
('60 s', '1 min 1 s')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def duration_text(seconds: float) -> str:
    s = round(seconds)
    return f"{s} s" if s < 61 else f"{s // 60} min {s % 60} s"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def summary(*, rollouts: Sequence[Mapping[str, Any]], alarms: Sequence[Mapping[str, Any]],
            runs: Sequence[Mapping[str, Any]], reviewed: int, queued: int | None,
            seconds: float) -> str:
    """The closing lines. ``rollouts`` and ``runs`` in any order (oldest first shown),
    ``alarms`` the firing/resolved transitions the watcher printed, oldest first."""
    lines = [f"The story is over ({duration_text(seconds)} since the demo started)."]
    shown = [f"{r['candidate']} {str(r['state']).replace('_', ' ')}"
             for r in sorted(rollouts, key=lambda r: float(r.get("created_at") or 0))]
    lines.append("  rollouts: " + (", ".join(shown) or "none"))
    fired = Counter(str(a["rule"]) for a in alarms if a.get("state") == "firing")
    last = {str(a["rule"]): str(a.get("state")) for a in alarms}
    alarm_text = [f"{rule} fired {_times(n)}"
                  + (" (resolved)" if last.get(rule) == "resolved" else " (still firing)")
                  for rule, n in fired.items()]
    lines.append("  alarms: " + ("; ".join(alarm_text) or "none fired"))
    run_text = [f"run #{r['id']} " + (f"rolled out {r['candidate']}"
                                       if r.get("state") == "rolled_out" and r.get("candidate")
                                       else str(r.get("state", "?")).replace("_", " "))
                for r in sorted(runs, key=lambda r: int(r["id"]))]
    lines.append("  retraining: " + (", ".join(run_text) or "no run"))
    waiting = "" if queued is None else f", {queued} waiting"
    lines.append(f"  review queue: {reviewed} decided by the simulated reviewer{waiting}")
    return "\n".join(lines)
