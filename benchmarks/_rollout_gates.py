"""Part (d) of benchmarks/rollout.py: the judge under continuous monitoring, simulated.

A canary step held for 10 minutes is judged at the controller's real tick (every 2 s,
300 looks) over its growing window, with the real judge (``rampup.rollout.judge``) and,
beside it, the fixed-level judge rampup used before issue 13 (``_judge_fixed``, kept
here only to compare). Traffic: ``rate`` requests/s, the candidate getting
``canary``%; arrivals are Poisson; latencies lognormal around 20 ms (sigma 0.4), 1%
errors, 90% accuracy with half the predictions labelled, score histograms from one
beta distribution. Measured:

- per check kind, the share of runs in which a candidate *identical* to the baseline
  fails the step at some look (target <= 5%, shown with its 95% Wilson interval);
- for a candidate failing 20% of requests (``error_rate <= baseline + 0.01``) and one
  50 ms slower (``latency_p99 <= 1.2 * baseline``): the candidate requests and seconds
  until the step fails (median over runs; target: at most 1.5 x the fixed judge's).

A step fails at its first failing look (the controller rolls back there); passing does
not end the simulated step (a 10-minute hold), which is the worst case for false fails.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import _judge_fixed
from rampup.rollout import judge as sequential_judge
from rampup.rollout.checks import Check, parse_check
from rampup.rollout.window import PairedStats, WindowStats

TICK_S = 2.0
STEP_S = 600.0
MIN_REQUESTS, MIN_LABELLED = 100, 50  # the controller's defaults
Evaluate = Callable[..., Any]
JUDGES: dict[str, Evaluate] = {"sequential": sequential_judge.evaluate,
                               "fixed": _judge_fixed.evaluate}

#: (label, check) for the identical-candidate table: every kind, relative and absolute.
KINDS: list[tuple[str, str]] = [
    ("rate, relative, margin", "error_rate <= baseline + 0.01"),
    ("rate, relative, no margin", "error_rate <= baseline"),
    ("rate, absolute", "error_rate <= 0.02"),
    ("latency quantile, relative", "latency_p99 <= 1.2 * baseline"),
    ("latency quantile, relative, no margin", "latency_p99 <= baseline"),
    ("latency quantile, absolute", "latency_p99 <= 60"),
    ("latency mean, relative", "latency_mean <= baseline"),
    ("accuracy, relative", "accuracy >= baseline - 0.02"),
    ("accuracy, absolute", "accuracy >= 0.88"),
    ("agreement (shadow), absolute", "agreement >= 0.9"),
    ("score divergence, absolute", "score_divergence <= 0.1"),
]
BAD: list[tuple[str, str, dict[str, float]]] = [
    ("20% errors", "error_rate <= baseline + 0.01", {"err": 0.2}),
    ("+50 ms", "latency_p99 <= 1.2 * baseline", {"shift_ms": 50.0}),
]


@dataclass
class Stream:
    """One version's requests over the step, in arrival order."""

    ticks: np.ndarray  # cumulative requests at each look
    errors: np.ndarray  # cumulative
    latencies: np.ndarray
    labelled: np.ndarray  # cumulative
    correct: np.ndarray  # cumulative
    scores: np.ndarray
    preds: np.ndarray  # for shadow pairs: the version's class

    @classmethod
    def draw(cls, rng: np.random.Generator, rate: float, *, err: float = 0.01,
             shift_ms: float = 0.0) -> Stream:
        looks = int(STEP_S / TICK_S)
        ticks = np.cumsum(rng.poisson(rate * TICK_S, looks))
        n = int(ticks[-1])
        failed = rng.random(n) < err
        labelled = (rng.random(n) < 0.5) & ~failed
        right = labelled & (rng.random(n) < 0.9)
        preds = np.where(rng.random(n) < 0.95, "a", "b")
        return cls(ticks, np.concatenate([[0], np.cumsum(failed)]),
                   rng.lognormal(math.log(20.0), 0.4, n) + shift_ms,
                   np.concatenate([[0], np.cumsum(labelled)]),
                   np.concatenate([[0], np.cumsum(right)]), rng.beta(5, 2, n),
                   preds.astype(object))

    def window(self, version: str, look: int) -> WindowStats:
        n = int(self.ticks[look])
        return WindowStats(version, requests=n, errors=int(self.errors[n]),
                           latencies_ms=self.latencies[:n], labelled=int(self.labelled[n]),
                           correct=int(self.correct[n]), scores=self.scores[:n])


def first_fail(evaluate: Evaluate, check: Check, seed: int, rate: float, canary: float,
               **bad: float) -> tuple[int, float] | None:
    """(candidate requests, seconds) at the first failing look; None if none failed."""
    rng = np.random.default_rng(seed)
    cand = Stream.draw(rng, rate * canary / 100.0, **bad)
    base = Stream.draw(rng, rate * (100.0 - canary) / 100.0)
    shadow = check.metric == "agreement"
    for look in range(len(cand.ticks)):
        n = int(cand.ticks[look])
        pairs = None
        if shadow:  # the candidate in shadow: paired with the primary on every request
            pairs = PairedStats("v2", "v1", base.preds[:n], cand.preds[:n],
                                np.full(n, np.nan), np.full(n, np.nan),
                                np.full(n, None, dtype=object))
        r = evaluate(check, cand.window("v2", look), base.window("v1", look), pairs,
                     min_requests=MIN_REQUESTS, min_labelled=MIN_LABELLED, seed=seed)
        if r.verdict == "fail":
            return n, (look + 1) * TICK_S
    return None


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def run(runs: int, bad_runs: int, rate: float, canary: float,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Both tables, as JSON-ready data with their targets judged."""
    false_fails: list[dict[str, Any]] = []
    for label, text in KINDS:
        check = parse_check(text)
        row: dict[str, Any] = {"kind": label, "check": text}
        # agreement windows are built in Python per look (slow): a fifth of the runs
        n_runs = max(min(10, runs), runs // 5) if check.metric == "agreement" else runs
        for name, ev in JUDGES.items():
            k = sum(first_fail(ev, check, s, rate, canary) is not None
                    for s in range(n_runs))
            lo, hi = wilson(k, n_runs)
            row[name] = {"fails": k, "runs": n_runs, "rate": k / n_runs, "ci": [lo, hi]}
        row["target_passed"] = row["sequential"]["rate"] <= 0.05
        progress(f"identical candidate, {text}: sequential {row['sequential']['rate']:.1%}"
                 f", fixed {row['fixed']['rate']:.1%}")
        false_fails.append(row)
    speed: list[dict[str, Any]] = []
    for label, text, bad in BAD:
        check = parse_check(text)
        row = {"candidate": label, "check": text}
        for name, ev in JUDGES.items():
            hits = [first_fail(ev, check, 10_000 + s, rate, canary, **bad)
                    for s in range(bad_runs)]
            got = [h for h in hits if h is not None]
            row[name] = {
                "failed": len(got), "runs": bad_runs,
                "requests": statistics.median(h[0] for h in got) if got else None,
                "seconds": statistics.median(h[1] for h in got) if got else None}
        seq, fixed = row["sequential"], row["fixed"]
        ok = seq["failed"] == bad_runs and seq["requests"] is not None
        ratio = None
        if ok and fixed["requests"]:
            ratio = seq["requests"] / fixed["requests"]
        row["ratio"] = ratio
        row["target_passed"] = ok and ratio is not None and ratio <= 1.5
        progress(f"{label}: sequential {seq['requests']} requests / {seq['seconds']} s, "
                 f"fixed {fixed['requests']} / {fixed['seconds']} s")
        speed.append(row)
    return {"rate": rate, "canary_percent": canary, "tick_s": TICK_S, "step_s": STEP_S,
            "runs": runs, "bad_runs": bad_runs, "false_fails": false_fails,
            "time_to_fail": speed}


def render(console: Any, res: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"(d) Identical candidate, judged every {res['tick_s']:g} s over a "
                    f"{res['step_s'] / 60:g}-minute step ({res['rate']:g} req/s, canary "
                    f"{res['canary_percent']:g}%): share of steps failed", title_justify="left")
    for col in ("check kind", "check", "runs", "sequential (new)", "fixed (before)",
                "target <= 5%"):
        t.add_column(col, justify="left" if col in ("check kind", "check") else "right")

    def pct(x: dict[str, Any]) -> str:
        lo, hi = x["ci"]
        return f"{x['rate']:.1%} [{lo:.1%}, {hi:.1%}]"

    for row in res["false_fails"]:
        t.add_row(row["kind"], row["check"], str(row["sequential"]["runs"]),
                  pct(row["sequential"]), pct(row["fixed"]),
                  "[green]pass[/]" if row["target_passed"] else "[red]FAIL[/]")
    console.print(t)
    t = Table(title="(d) Bad candidates: candidate requests / seconds until the step fails "
                    "(median over runs)", title_justify="left")
    for col in ("candidate", "check", "runs", "sequential (new)", "fixed (before)",
                "ratio", "target <= 1.5x"):
        t.add_column(col, justify="left" if col in ("candidate", "check") else "right")

    def cell(x: dict[str, Any]) -> str:
        if x["requests"] is None:
            return "never failed"
        missed = "" if x["failed"] == x["runs"] else f" ({x['runs'] - x['failed']} never)"
        return f"{x['requests']:.0f} req / {x['seconds']:.0f} s{missed}"

    for row in res["time_to_fail"]:
        t.add_row(row["candidate"], row["check"], str(row["sequential"]["runs"]),
                  cell(row["sequential"]), cell(row["fixed"]),
                  "-" if row["ratio"] is None else f"{row['ratio']:.2f}x",
                  "[green]pass[/]" if row["target_passed"] else "[red]FAIL[/]")
    console.print(t)
    console.print("  intervals: 95% Wilson; sequential: always-valid confidence sequences "
                  "(rampup.rollout.sequential); fixed: the pre-issue-13 judge "
                  "(benchmarks/_judge_fixed.py); minimum 100 requests / 50 labels per "
                  "version before either judges", highlight=False)


def failed_targets(res: dict[str, Any]) -> list[str]:
    return [r["check"] for r in res["false_fails"] if not r["target_passed"]] + \
        [r["candidate"] for r in res["time_to_fail"] if not r["target_passed"]]
