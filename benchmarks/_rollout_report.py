"""Numbers and tables of benchmarks/rollout.py: pure summaries, then rich rendering.

>>> runs = [{"decision_s": 6.0, "last_bad_s": 6.2, "bad": 110, "total": 1200, "failed": 22},
...         {"decision_s": 5.0, "last_bad_s": 5.3, "bad": 100, "total": 1000, "failed": 19}]
>>> s = summarize_canary(runs)
>>> s["decision_s"], s["bad"], round(s["share"], 4)
(5.5, 105.0, 0.0955)
>>> shadow_target({"p99_ms": 10.0}, {"p99_ms": 10.8})["passed"]
True
>>> shadow_target({"p99_ms": 10.0}, {"p99_ms": 11.5})["passed"]
False
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

P99_FACTOR = 1.10  # the target: the primary's p99 with a shadow within 10%
KINDS = {"cpu": "holds the GIL (CPU)", "gil-free": "releases the GIL (waits)"}


def summarize_canary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeated runs of one bad candidate (runs that never rolled back
    count in ``not_rolled_back`` and are left out of the medians)."""
    done = [r for r in runs if r.get("decision_s") is not None]

    def med(key: str) -> float | None:
        values = [float(r[key]) for r in done if r.get(key) is not None]
        return float(median(values)) if values else None

    bad, total = med("bad"), med("total")
    shares = [r["bad"] / r["total"] for r in done if r.get("total")]
    return {"runs": len(runs), "not_rolled_back": len(runs) - len(done),
            "decision_s": med("decision_s"), "last_bad_s": med("last_bad_s"),
            "decision_range_s": (min(r["decision_s"] for r in done),
                                 max(r["decision_s"] for r in done)) if done else None,
            "bad": bad, "total": total, "failed": med("failed"),
            "share": float(median(shares)) if shares else None}


def latency_summary(ms: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(ms, dtype=np.float64)
    if not a.size:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None}
    return {"n": int(a.size), "p50_ms": float(np.quantile(a, 0.5)),
            "p90_ms": float(np.quantile(a, 0.9)), "p99_ms": float(np.quantile(a, 0.99))}


def shadow_target(off: dict[str, Any], on: dict[str, Any]) -> dict[str, Any]:
    ratio = on["p99_ms"] / off["p99_ms"] if off.get("p99_ms") and on.get("p99_ms") else None
    return {"name": "primary p99 with shadow / without", "measured": ratio, "op": "<=",
            "goal": P99_FACTOR, "passed": ratio is not None and ratio <= P99_FACTOR}


def _s(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def render(console: Console, canary: dict[str, dict[str, Any]],
           shadow: dict[str, Any] | None, rate: float) -> None:
    if canary:
        t = Table(title=f"Bad candidates on a canary plan (first step 10%, {rate:g} req/s)",
                  title_justify="left")
        for col in ("candidate", "runs", "rollback after s", "last bad s", "bad answers",
                    "all requests", "share", "5xx", "failed check"):
            t.add_column(col, justify="left" if col in ("candidate", "failed check") else "right")
        for name, c in canary.items():
            s = c["summary"]
            rng = s["decision_range_s"]
            decision = _s(s["decision_s"]) + (f" ({rng[0]:.1f}-{rng[1]:.1f})"
                                              if rng and s["runs"] > 1 else "")
            if s["not_rolled_back"]:
                decision += f", {s['not_rolled_back']} not rolled back"
            t.add_row(name, str(s["runs"]), decision, _s(s["last_bad_s"]),
                      _s(s["bad"], "{:.0f}"), _s(s["total"], "{:,.0f}"),
                      _s(None if s["share"] is None else s["share"] * 100, "{:.1f}%"),
                      _s(s["failed"], "{:.0f}"), c.get("failed_check", "-"))
        console.print(t)
        console.print("  rollback after: from the deploy call to the controller's rollback "
                      "(server clock; range over runs); last bad: when the last request the "
                      "bad version answered was sent (client clock); share: bad answers / all "
                      "requests sent from the deploy until then; 5xx: failed requests users "
                      "saw (medians over runs)", highlight=False)
    if shadow is None:
        return
    t = Table(title="Primary latency with and without a shadow of equal cost (client side)",
              title_justify="left")
    for col in ("model", "shadow", "requests", "p50 ms", "p90 ms", "p99 ms",
                "p99 per round ms", "server CPU ms/req", "errors"):
        t.add_column(col, justify="left" if col in ("model", "shadow") else "right")
    kinds = [k for k in shadow if k != "shadow_outcomes"]
    for kind in kinds:
        for phase in ("off", "on"):
            p = shadow[kind][phase]
            t.add_row(KINDS.get(kind, kind) if phase == "off" else "",
                      "100% mirrored" if phase == "on" else "none", f"{p['n']:,}",
                      _s(p["p50_ms"], "{:.2f}"), _s(p["p90_ms"], "{:.2f}"),
                      _s(p["p99_ms"], "{:.2f}"),
                      " ".join(f"{x:.1f}" for x in p["round_p99_ms"]),
                      _s(p["cpu_ms_per_req"], "{:.2f}"), str(p["errors"]))
    console.print(t)
    for kind in kinds:
        tgt = shadow[kind]["target"]
        verdict = "[green]PASS[/]" if tgt["passed"] else "[red]FAIL[/]"
        measured = "-" if tgt["measured"] is None else f"{tgt['measured']:.2f}x"
        console.print(f"  {kind} model: {tgt['name']}: {measured} (goal {tgt['op']} "
                      f"{tgt['goal']:.2f}x) {verdict}")
    console.print(f"  shadow calls by outcome: {shadow['shadow_outcomes'] or 'none counted'}")
