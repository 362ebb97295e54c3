"""``load_test``: the Python API behind ``rampup loadtest`` (the CLI adds bodies and output).

>>> import inspect
>>> list(inspect.signature(load_test).parameters)[:4]
['endpoint', 'bodies', 'rate', 'duration']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rampup.loadtest.client import Target
from rampup.loadtest.runner import Tick, run, split
from rampup.loadtest.schedule import Rate, offsets, parse_rate
from rampup.loadtest.verdict import Plan, Report, Targets, judge


def load_test(endpoint: str, bodies: Sequence[bytes], rate: Rate | str | float,
              duration: float, *, slo: Targets | Mapping[str, float] | Any = None,
              arrivals: str = "constant", processes: int = 1, connections: int = 256,
              timeout: float = 10.0, windows: int | None = None,
              lag_bound_ms: float | None = None, seed: int = 0,
              headers: Mapping[str, str] | None = None,
              on_tick: Callable[[Tick], None] | None = None) -> Report:
    """POST ``bodies`` (JSON bytes, used in turn) to ``endpoint`` open-loop at ``rate``
    (req/s, or ``"10:1000"`` for a ramp) for ``duration`` seconds and judge ``slo`` (a
    :class:`Targets`, the project file's ``slo:`` or a mapping with its keys)."""
    if not isinstance(rate, Rate):
        rate = parse_rate(str(rate))
    if isinstance(slo, Targets):
        targets = slo
    elif isinstance(slo, Mapping):
        targets = Targets.from_slo(None, **slo)
    else:
        targets = Targets.from_slo(slo)
    target = Target.parse(endpoint)
    requests = [target.request(b, dict(headers or {})) for b in bodies]
    due = offsets(rate, duration, arrivals, seed=seed)
    bound = lag_bound_ms if lag_bound_ms is not None else targets.lag_bound_ms()
    plan = Plan(rate, duration, arrivals, windows or (10 if rate.is_ramp else 1), bound)
    jobs = split(endpoint, requests, due, processes, timeout=timeout,
                 connections=connections, give_up_after=duration * 1.1 + 1.0)
    outcomes = run(jobs, on_tick or (lambda tick: None))
    return judge(outcomes, plan, targets)
