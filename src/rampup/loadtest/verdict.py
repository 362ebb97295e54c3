"""Judge a run: per-window rates, the generator's self-check, and one verdict per SLO.

Pure: it reads an :class:`~rampup.loadtest.latencies.Outcomes` and the plan, nothing else.

* A window (a slice of the schedule by due time) reports the rate **offered** (requests
  due per second), the rate **achieved** (requests the generator actually started per
  second, by start time), the rate **served** (2xx answers completed per second) and the
  generator's send lag. The generator *fell short* in a window when it achieved less than
  95% of the offered rate (less two requests) or left requests unsent: then no SLO is
  judged, the run says how far the generator got and exits 3. A p99 send lag over the
  bound (it adds to every measured latency) voids only the latency failures that the lag
  could explain: a pass stands, and so does a failure that the latencies less each
  request's lag fail too.
* ``latency_p99_ms`` / ``latency_p50_ms``: the exact quantile of every sent request's
  latency (timeouts and errors included, measured from the due time).
* ``max_error_rate``: share of requests without a 2xx answer.
* ``expected_qps``: at a constant offered rate of at least the target, the served rate,
  counted over the last 90% of the schedule shifted by the median latency, must reach the
  target within 1% (plus Poisson count noise, 3/√n, and one request at each edge). On a
  ramp: the highest window rate at which every latency and error SLO held and the server
  kept up (served ≥ 95% of offered less two requests, counted the same way) must reach
  it.

On a ramp, the latency and error SLOs are judged on the windows offered at most the
target rate (``expected_qps``, or the ramp's top), pooled.

>>> from rampup.loadtest.latencies import Outcomes
>>> o = Outcomes.build(due=[0.0, 0.5], lag=[0.0, 0.0], latency=[0.2, 0.21], status=[200, 200])
>>> r = judge(o, Plan(Rate(2.0), 1.0), Targets(latency_p99_ms=50))
>>> [(v.name, v.status) for v in r.verdicts], r.exit_code
([('latency_p99_ms', 'fail')], 1)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from rampup.loadtest.latencies import Outcomes, histogram, quantile
from rampup.loadtest.schedule import Rate

MIN_ACHIEVED = 0.95  # of the offered rate, per window
KEEP_UP = 0.95  # served / offered for a ramp window to count toward capacity
QPS_TOLERANCE = 0.01
DEFAULT_LAG_MS = 10.0

Status = Literal["pass", "fail", "not judged"]
EXIT_PASS, EXIT_FAIL, EXIT_NOT_JUDGED = 0, 1, 3


@dataclass(frozen=True)
class Targets:
    """The SLOs to judge (``None``: not judged). Same keys as the project file's ``slo:``."""

    latency_p99_ms: float | None = None
    latency_p50_ms: float | None = None
    expected_qps: float | None = None
    max_error_rate: float | None = None

    @classmethod
    def from_slo(cls, slo: Any, **flags: float | None) -> Targets:
        """The project's ``slo:`` (any object with these attributes, or None), each value
        replaced by a flag that is not None."""
        values = {k: getattr(slo, k, None) for k in cls.__dataclass_fields__}
        values.update({k: v for k, v in flags.items() if v is not None})
        return cls(**values)

    def lag_bound_ms(self) -> float:
        """Default send-lag bound: 10% of the tightest latency SLO, within 1-10 ms."""
        tight = [t for t in (self.latency_p50_ms, self.latency_p99_ms) if t is not None]
        return min(DEFAULT_LAG_MS, max(1.0, 0.1 * min(tight))) if tight else DEFAULT_LAG_MS


@dataclass(frozen=True)
class Plan:
    rate: Rate
    duration: float
    arrivals: str = "constant"
    windows: int = 1
    lag_bound_ms: float = DEFAULT_LAG_MS


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    requests: int
    offered_rps: float
    achieved_rps: float
    served_rps: float
    latency_ms: dict[str, float]
    error_rate: float
    lag_p99_ms: float
    unsent: int
    generator_ok: bool
    problem: str | None = None
    shortfall: bool = False  # requests unsent or the rate not reached (not just lag)


@dataclass(frozen=True)
class Verdict:
    name: str
    target: float
    measured: float | None
    status: Status
    detail: str


@dataclass(frozen=True)
class Report:
    plan: Plan
    requests: int
    outcomes: dict[str, int]
    error_rate: float
    latency_ms: dict[str, float]
    lag_ms: dict[str, float]
    offered_rps: float
    achieved_rps: float
    served_rps: float
    windows: list[Window]
    verdicts: list[Verdict]
    generator_problem: str | None
    generator_shortfall: bool = False
    capacity_rps: float | None = None
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    from_send_ms: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        statuses = {v.status for v in self.verdicts}
        if "fail" in statuses:
            return EXIT_FAIL
        return EXIT_NOT_JUDGED if "not judged" in statuses else EXIT_PASS

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "arrivals": plan.arrivals, "duration_s": plan.duration,
            "rate": {"start": plan.rate.start, "end": plan.rate.top},
            "requests": self.requests, "outcomes": self.outcomes,
            "error_rate": _num(self.error_rate), "latency_ms": _nums(self.latency_ms),
            "latency_from_send_ms": _nums(self.from_send_ms),
            "offered_rps": _num(self.offered_rps), "achieved_rps": _num(self.achieved_rps),
            "served_rps": _num(self.served_rps), "send_lag_ms": _nums(self.lag_ms),
            "generator": {"limited": self.generator_problem is not None,
                          "shortfall": self.generator_shortfall,
                          "problem": self.generator_problem,
                          "lag_bound_ms": plan.lag_bound_ms,
                          "min_achieved_share": MIN_ACHIEVED},
            "capacity_rps": _num(self.capacity_rps),
            "windows": [{k: _nums(v) if isinstance(v, dict) else _num(v)
                         for k, v in asdict(w).items()} for w in self.windows],
            "histogram": [{"low_ms": lo, "high_ms": hi, "count": n}
                          for lo, hi, n in self.histogram],
            "slo": [{k: _num(v) for k, v in asdict(v).items()} for v in self.verdicts],
            "passed": {EXIT_PASS: True, EXIT_FAIL: False}.get(self.exit_code),
            "exit_code": self.exit_code,
        }


def _num(v: Any) -> Any:
    """JSON has no NaN: NaN and infinities become null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _nums(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _num(v) for k, v in d.items()}


def _window(o: Outcomes, start: float, end: float, lag_bound_ms: float, last: bool
            ) -> Window:
    width = end - start
    inside = o.select((o.due >= start) & (o.due < end))
    started = o.due + o.lag  # NaN for unsent: never counted
    stop = end + lag_bound_ms / 1000 if last else end
    achieved = int(np.count_nonzero((started >= start) & (started < stop)))
    served = _served(o, start, end, quantile(inside.latency, 0.5))
    lag_p99 = quantile(inside.lag, 0.99) * 1000
    unsent = int(np.count_nonzero(~inside.sent))
    offered = inside.count / width
    problem = None
    # two requests of slack: one stalled start at a window's edge is lag, not a lower rate
    short = bool(unsent) or bool(inside.count and achieved < MIN_ACHIEVED * inside.count - 2)
    if unsent:
        problem = f"{unsent} requests never sent"
    elif short:
        problem = (f"sent {achieved / width:,.0f} of {offered:,.0f} req/s offered "
                   f"({achieved / inside.count:.0%})")
    elif lag_p99 > lag_bound_ms:
        problem = f"send lag p99 {lag_p99:.1f} ms over the bound of {lag_bound_ms:g} ms"
    return Window(start, end, inside.count, offered, achieved / width, served,
                  inside.quantiles(), inside.error_rate(), lag_p99, unsent,
                  problem is None, problem, short)


def _latency_verdicts(o: Outcomes, t: Targets) -> list[Verdict]:
    out = []
    for name, q in (("latency_p99_ms", 0.99), ("latency_p50_ms", 0.5)):
        target = getattr(t, name)
        if target is None:
            continue
        measured = quantile(o.latency, q) * 1000
        ok = math.isfinite(measured) and measured <= target
        out.append(Verdict(name, target, measured, "pass" if ok else "fail",
                           f"p{q * 100:g} {measured:.1f} ms {'≤' if ok else '>'} {target:g} ms "
                           f"over {int(np.count_nonzero(o.sent)):,} requests"))
    if t.max_error_rate is not None:
        rate = o.error_rate()
        ok = rate <= t.max_error_rate
        out.append(Verdict("max_error_rate", t.max_error_rate, rate, "pass" if ok else "fail",
                           f"{rate:.2%} errors {'≤' if ok else '>'} {t.max_error_rate:.2%} "
                           f"({o.count - int(o.ok.sum()):,} of {o.count:,})"))
    return out


def _served(o: Outcomes, start: float, end: float, shift: float) -> float:
    """2xx answers per second completed in ``[start, end)`` shifted by ``shift`` (a median
    latency), so answers still in flight at the end do not count against the server."""
    shift = 0.0 if math.isnan(shift) else shift
    done = o.due + o.latency
    n = np.count_nonzero(o.ok & (done >= start + shift) & (done < end + shift))
    return float(n) / (end - start)


def _served_steady(o: Outcomes, plan: Plan) -> float:
    """The served rate over the last 90% of the schedule (the first 10% fills the pipe)."""
    return _served(o, 0.1 * plan.duration, plan.duration, quantile(o.latency, 0.5))


def _qps_constant(o: Outcomes, plan: Plan, target: float) -> Verdict:
    if plan.rate.start < target:
        return Verdict("expected_qps", target, None, "not judged",
                       f"offered {plan.rate.start:g} req/s, less than the {target:g} to judge: "
                       f"run with --qps {target:g} or more")
    served = _served_steady(o, plan)
    span = 0.9 * plan.duration
    noise = 3 / math.sqrt(target * span) if plan.arrivals == "poisson" else 0
    # less 1%, Poisson count noise, and one request at each edge of the counting window
    floor = target * (1 - QPS_TOLERANCE - noise) - 2 / span
    ok = served >= floor
    return Verdict("expected_qps", target, served, "pass" if ok else "fail",
                   f"served {served:,.1f} req/s {'≥' if ok else '<'} {floor:,.1f} "
                   f"({target:g} less {QPS_TOLERANCE + noise:.1%} and 2 requests)")


def _capacity(windows: list[Window], t: Targets) -> float:
    best = 0.0
    for w in windows:
        p99, p50 = w.latency_ms.get("p99", math.nan), w.latency_ms.get("p50", math.nan)
        width = w.end - w.start  # two requests of slack at the window's edges, as above
        held = (w.served_rps * width >= KEEP_UP * w.requests - 2
                and (t.latency_p99_ms is None or p99 <= t.latency_p99_ms)
                and (t.latency_p50_ms is None or p50 <= t.latency_p50_ms)
                and (t.max_error_rate is None or w.error_rate <= t.max_error_rate))
        if not held:
            break
        best = w.offered_rps
    return best


def judge(o: Outcomes, plan: Plan, targets: Targets) -> Report:
    """The report of a finished run (see the module docstring for the rules)."""
    edges = np.linspace(0.0, plan.duration, max(1, plan.windows) + 1)
    windows = [_window(o, float(a), float(b), plan.lag_bound_ms, i == len(edges) - 2)
               for i, (a, b) in enumerate(itertools.pairwise(edges))]
    limit = targets.expected_qps if targets.expected_qps is not None else plan.rate.top
    judged = [w for w in windows if w.offered_rps <= limit * (1 + 1e-9)] or windows[:1]
    capacity = _capacity(windows, targets) if plan.rate.is_ramp else None
    checked = judged
    if capacity is not None and targets.expected_qps is not None:  # the knee is judged too
        knee = next((i for i, w in enumerate(windows) if w.offered_rps > capacity),
                    len(windows) - 1)
        checked = windows[:max(len(judged), knee + 1)]
    bad = sorted((w for w in checked if w.problem), key=lambda w: not w.shortfall)
    problem = f"at {bad[0].offered_rps:,.0f} req/s offered: {bad[0].problem}" if bad else None
    shortfall = bool(bad) and bad[0].shortfall
    pool = o.select((o.due >= judged[0].start) & (o.due < judged[-1].end))
    verdicts = _latency_verdicts(pool, targets)
    if targets.expected_qps is not None:
        if capacity is None:
            verdicts.append(_qps_constant(o, plan, targets.expected_qps))
        else:
            ok = capacity >= targets.expected_qps
            verdicts.append(Verdict("expected_qps", targets.expected_qps, capacity,
                                    "pass" if ok else "fail",
                                    f"SLOs held up to {capacity:,.1f} req/s offered"))
    if problem is not None:
        verdicts = [_doubt(v, pool, shortfall, problem) for v in verdicts]
    sent_lag = o.lag[~np.isnan(o.lag)] * 1000
    lag = {"p50": quantile(sent_lag, 0.5), "p99": quantile(sent_lag, 0.99),
           "max": float(sent_lag.max()) if len(sent_lag) else math.nan}
    started = o.due + o.lag
    achieved = int(np.count_nonzero(started < plan.duration + plan.lag_bound_ms / 1000))
    return Report(plan, o.count, o.kinds(), o.error_rate(), o.quantiles(), lag,
                  o.count / plan.duration, achieved / plan.duration,
                  _served_steady(o, plan), windows, verdicts, problem, shortfall, capacity,
                  histogram(o.latency * 1000),
                  {"p50": quantile(o.latency - np.maximum(o.lag, 0), 0.5) * 1000,
                   "p99": quantile(o.latency - np.maximum(o.lag, 0), 0.99) * 1000})


def _doubt(v: Verdict, pool: Outcomes, shortfall: bool, problem: str) -> Verdict:
    """A verdict given that the generator fell short. Unsent requests or a rate not
    reached void every verdict. Send lag alone only inflates latencies: a pass stands,
    and so does a latency failure that the lag-free latencies (latency - lag) fail too."""
    if not shortfall:
        q = {"latency_p99_ms": 0.99, "latency_p50_ms": 0.5}.get(v.name)
        if v.status == "pass" or q is None:  # lag causes neither errors nor a low rate
            return v
        if q is not None:
            without = quantile(pool.latency - np.maximum(pool.lag, 0), q) * 1000
            if without > v.target:
                return Verdict(v.name, v.target, v.measured, v.status,
                               f"{v.detail}; {without:.1f} ms without the generator's "
                               f"send lag ({problem})")
    return Verdict(v.name, v.target, v.measured, "not judged",
                   f"generator-limited, not server-limited ({problem}); measured: {v.detail}")
