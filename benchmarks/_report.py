"""Targets and tables: pure functions over the measured numbers, then rich rendering.

>>> runs = [run("a", 1, 1000, 0.9, 1.5), run("b", 1, 850, 1.2, 2.0),
...         run("a", 16, 1100, 14, 20), run("b", 16, 900, 17, 25), run("c", 16, 2000, 8, 12)]
>>> [(t["name"], round(t["measured"], 2), t["passed"]) for t in targets(runs, [])]
... # doctest: +NORMALIZE_WHITESPACE
[('b/a throughput @ 1 conn', 0.85, True), ('b/a throughput @ 16 conns', 0.82, True),
 ('p50 added latency b - a @ 1 conn', 0.3, True), ('c/a throughput @ 16 conns', 1.82, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

CONFIGS = {
    "a": "a bare Starlette",
    "b": "b rampup",
    "c": "c rampup+batching",
}
LEGEND = {
    "a": "plain Starlette route: orjson, one-row DataFrame, predict_proba, JSON",
    "b": "rampup predict: validation, routing, metrics, prediction log on; batching off",
    "c": "as b, with adaptive micro-batching on (<= 2 ms wait, <= 64 records)",
}
WRITER_FACTOR = 5.0  # the log writer must sustain this multiple of the serving rate


def run(config: str, connections: int, req_per_s: float, p50_ms: float, p99_ms: float,
        errors: int = 0) -> dict[str, Any]:
    """One measurement in the shape the report reads (used by tests and doctests)."""
    return {"config": config, "connections": connections, "req_per_s": req_per_s,
            "p50_ms": p50_ms, "p99_ms": p99_ms, "errors": errors}


def _find(runs: Sequence[dict[str, Any]], config: str, conns: int) -> dict[str, Any] | None:
    return next((r for r in runs if r["config"] == config and r["connections"] == conns), None)


def _target(name: str, measured: float, op: str, goal: float, unit: str = "") -> dict[str, Any]:
    passed = measured >= goal if op == ">=" else measured <= goal
    return {"name": name, "measured": measured, "op": op, "goal": goal, "unit": unit,
            "passed": passed}


def serving_rate(runs: Sequence[dict[str, Any]]) -> float:
    """The highest rate rampup served (requests of one record each), in rows/s."""
    return max((r["req_per_s"] for r in runs if r["config"] in ("b", "c")), default=0.0)


def targets(runs: Sequence[dict[str, Any]],
            writers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and verdict."""
    out = []
    conns = sorted({r["connections"] for r in runs})
    for c in conns:
        a, b = _find(runs, "a", c), _find(runs, "b", c)
        if a and b and a["req_per_s"] > 0:
            label = "1 conn" if c == 1 else f"{c} conns"
            out.append(_target(f"b/a throughput @ {label}", b["req_per_s"] / a["req_per_s"],
                               ">=", 0.8))
    a1, b1 = _find(runs, "a", 1), _find(runs, "b", 1)
    if a1 and b1:
        out.append(_target("p50 added latency b - a @ 1 conn", b1["p50_ms"] - a1["p50_ms"],
                           "<=", 0.5, " ms"))
    top = max(conns, default=0)
    a16, c16 = _find(runs, "a", top), _find(runs, "c", top)
    if top > 1 and a16 and c16 and a16["req_per_s"] > 0:
        out.append(_target(f"c/a throughput @ {top} conns", c16["req_per_s"] / a16["req_per_s"],
                           ">=", 1.5))
    rate = serving_rate(runs)
    for w in writers:
        if w.get("rows_per_s") and rate > 0:
            out.append(_target(f"log writer {w['backend']} / serving rate",
                               w["rows_per_s"] / rate, ">=", WRITER_FACTOR))
    return out


def render(console: Console, runs: Sequence[dict[str, Any]],
           writers: Sequence[dict[str, Any]], checks: Sequence[dict[str, Any]]) -> None:
    t = Table(title="Serving: one record per request (wrk, 1 thread)", title_justify="left")
    for col in ("config", "conns", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs a",
                "server CPU ms/req"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for r in runs:
        a = _find(runs, "a", r["connections"])
        ratio = f"{r['req_per_s'] / a['req_per_s']:.2f}x" if a and a["req_per_s"] else "-"
        cpu = f"{r['cpu_ms_per_req']:.2f}" if r.get("cpu_ms_per_req") else "-"
        t.add_row(CONFIGS.get(r["config"], r["config"]), str(r["connections"]),
                  f"{r['req_per_s']:,.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                  str(r["errors"]), ratio, cpu)
    console.print(t)
    for key, text in LEGEND.items():
        if any(r["config"] == key for r in runs):
            console.print(f"  {key}: {text}")

    if writers:
        _render_writers(console, runs, writers)

    c = Table(title="Targets (foundation issue)", title_justify="left")
    for col in ("target", "measured", "goal", "verdict"):
        c.add_column(col, justify="left" if col == "target" else "right")
    for chk in checks:
        unit = chk["unit"]
        measured = f"{chk['measured']:.2f}{unit}" if unit else f"{chk['measured']:.2f}x"
        goal = f"{chk['op']} {chk['goal']:g}{unit}" if unit else f"{chk['op']} {chk['goal']:g}x"
        verdict = "[green]PASS[/]" if chk["passed"] else "[red]FAIL[/]"
        c.add_row(chk["name"], measured, goal, verdict)
    console.print(c)


def _render_writers(console: Console, runs: Sequence[dict[str, Any]],
                    writers: Sequence[dict[str, Any]]) -> None:
    w = Table(title="Prediction-log writer: LogWriter + Store, 16-feature records",
              title_justify="left")
    for col in ("backend", "rows", "seconds", "rows/s", "x serving rate", "dropped/failed"):
        w.add_column(col, justify="left" if col == "backend" else "right")
    rate = serving_rate(runs)
    for row in writers:
        if row.get("skipped"):
            w.add_row(row["backend"], "-", "-", "-", "-", f"skipped: {row['skipped']}")
            continue
        factor = f"{row['rows_per_s'] / rate:.1f}x" if rate else "-"
        w.add_row(row["backend"], f"{row['rows']:,}", f"{row['seconds']:.2f}",
                  f"{row['rows_per_s']:,.0f}", factor, f"{row['dropped']}/{row['failed']}")
    console.print(w)
