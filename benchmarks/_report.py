"""Targets and tables: pure functions over the measured numbers, then rich rendering.

Targets compare rampup (b, c) with the bare NumPy endpoint (n) measured in the same run.

>>> runs = [run("n", 1, 1000, 0.9, 1.5), run("b", 1, 950, 1.2, 2.0),
...         run("n", 16, 1100, 14, 20), run("b", 16, 1000, 15, 28), run("c", 16, 2000, 8, 39)]
>>> [(t["name"], round(t["measured"], 2), t["passed"]) for t in targets(runs, [])]
... # doctest: +NORMALIZE_WHITESPACE
[('b/n throughput @ 1 conn', 0.95, True), ('b/n throughput @ 16 conns', 0.91, True),
 ('p50 added latency b - n @ 1 conn', 0.3, True), ('b/n p99 @ 16 conns', 1.4, True),
 ('c/n throughput @ 16 conns', 1.82, True), ('c/n p99 @ 16 conns', 1.95, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

CONFIGS = {
    "n": "n bare NumPy",
    "a": "a bare pandas",
    "b": "b rampup",
    "c": "c rampup+batching",
    "d": "d rampup, not compiled",
}
LEGEND = {
    "n": "plain Starlette route: orjson, a NumPy row, predict_proba inline, orjson (baseline)",
    "a": "the same with a one-row pandas DataFrame (the model fitted on a DataFrame)",
    "b": "rampup predict: validation, routing, metrics, prediction log, monitoring and "
         "automation on; batching off",
    "c": "as b, with adaptive micro-batching on (<= 2 ms wait, <= 64 records)",
    "d": "as b, with compiled: false (scikit-learn's own predict_proba, as n calls it): "
         "rampup's overhead alone",
}
BASELINE = "n"
WRITER_FACTOR = 5.0  # the log writer must sustain this multiple of the serving rate
THROUGHPUT = 0.9  # b / n at every connection count
P99_NO_BATCHING = 1.5  # b / n at the top connection count
BATCHING_THROUGHPUT = 1.5  # c / n at the top connection count ...
BATCHING_P99 = 2.0  # ... with its p99 at most this multiple of n's
OPEN_LOOP_P99 = 1.5  # at a fixed offered rate
MIXED_P99 = 1.5  # single-record p99 with large requests beside / without


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


def _conns(c: int) -> str:
    return "1 conn" if c == 1 else f"{c} conns"


def serving_rate(runs: Sequence[dict[str, Any]]) -> float:
    """The highest rate rampup served (requests of one record each), in rows/s."""
    return max((r["req_per_s"] for r in runs if r["config"] in ("b", "c")), default=0.0)


def targets(runs: Sequence[dict[str, Any]], writers: Sequence[dict[str, Any]],
            open_loop: Sequence[dict[str, Any]] = (),
            mixed: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and verdict."""
    n = BASELINE
    out = []
    conns = sorted({r["connections"] for r in runs})
    for c in conns:
        base, b = _find(runs, n, c), _find(runs, "b", c)
        if base and b and base["req_per_s"] > 0:
            out.append(_target(f"b/{n} throughput @ {_conns(c)}",
                               b["req_per_s"] / base["req_per_s"], ">=", THROUGHPUT))
    base1, b1 = _find(runs, n, 1), _find(runs, "b", 1)
    if base1 and b1:
        out.append(_target(f"p50 added latency b - {n} @ 1 conn",
                           b1["p50_ms"] - base1["p50_ms"], "<=", 0.5, " ms"))
    top = max(conns, default=0)
    base, b, c = _find(runs, n, top), _find(runs, "b", top), _find(runs, "c", top)
    if top > 1 and base and base["p99_ms"] > 0:
        if b:
            out.append(_target(f"b/{n} p99 @ {_conns(top)}", b["p99_ms"] / base["p99_ms"],
                               "<=", P99_NO_BATCHING))
        if c and base["req_per_s"] > 0:
            out.append(_target(f"c/{n} throughput @ {_conns(top)}",
                               c["req_per_s"] / base["req_per_s"], ">=", BATCHING_THROUGHPUT))
            out.append(_target(f"c/{n} p99 @ {_conns(top)}", c["p99_ms"] / base["p99_ms"],
                               "<=", BATCHING_P99))
    for row in open_loop:
        ref = next((r for r in open_loop if r["config"] == n and r["rate"] == row["rate"]),
                   None)
        if row["config"] == n or ref is None or ref["p99_ms"] <= 0:
            continue
        name = f"{row['config']}/{n} p99 @ {row['rate']:,.0f} req/s open loop"
        if row["generator_limited"] or ref["generator_limited"]:
            # the generator fell behind its schedule: no verdict on the server either way
            out.append({**_target(name, 0.0, "<=", OPEN_LOOP_P99), "passed": False,
                        "note": "generator-limited"})
            continue
        out.append(_target(name, row["p99_ms"] / ref["p99_ms"], "<=", OPEN_LOOP_P99))
    for m in mixed:
        alone, beside = m["alone"]["p99_ms"], m["with_large"]["p99_ms"]
        if alone > 0:
            out.append(_target(f"{m['config']} single-record p99 with / without "
                               f"{m['size']:,}-record requests", beside / alone, "<=",
                               MIXED_P99))
    rate = serving_rate(runs)
    for w in writers:
        if w.get("rows_per_s") and rate > 0:
            out.append(_target(f"log writer {w['backend']} / serving rate",
                               w["rows_per_s"] / rate, ">=", WRITER_FACTOR))
    return out


def _ms(r: dict[str, Any], key: str) -> str:
    value = r.get(key)
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def render(console: Console, runs: Sequence[dict[str, Any]],
           writers: Sequence[dict[str, Any]], checks: Sequence[dict[str, Any]],
           open_loop: Sequence[dict[str, Any]] = (), mixed: Sequence[dict[str, Any]] = (),
           title: str = "Serving: one record per request (wrk, 1 thread)") -> None:
    t = Table(title=title, title_justify="left")
    for col in ("config", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                "max ms", "errors", f"req/s vs {BASELINE}", f"p99 vs {BASELINE}",
                "server CPU ms/req"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for r in runs:
        base = _find(runs, BASELINE, r["connections"])
        ratio = f"{r['req_per_s'] / base['req_per_s']:.2f}x" if base and base["req_per_s"] \
            else "-"
        p99 = f"{r['p99_ms'] / base['p99_ms']:.2f}x" if base and base["p99_ms"] else "-"
        cpu = f"{r['cpu_ms_per_req']:.3f}" if r.get("cpu_ms_per_req") else "-"
        t.add_row(CONFIGS.get(r["config"], r["config"]), str(r["connections"]),
                  f"{r['req_per_s']:,.0f}", _ms(r, "p50_ms"), _ms(r, "p90_ms"),
                  _ms(r, "p99_ms"), _ms(r, "p999_ms"), _ms(r, "max_ms"), str(r["errors"]),
                  ratio, p99, cpu)
    console.print(t)
    for key, text in LEGEND.items():
        if any(r["config"] == key for r in runs):
            console.print(f"  {key}: {text}")
    if open_loop:
        _render_open_loop(console, open_loop)
    if mixed:
        _render_mixed(console, mixed)
    if writers:
        _render_writers(console, runs, writers)
    render_targets(console, checks)


def render_targets(console: Console, checks: Sequence[dict[str, Any]],
                   title: str = "Targets (vs the bare NumPy endpoint, same run)") -> None:
    c = Table(title=title, title_justify="left")
    for col in ("target", "measured", "goal", "verdict"):
        c.add_column(col, justify="left" if col == "target" else "right")
    for chk in checks:
        unit = chk["unit"]
        measured = f"{chk['measured']:.2f}{unit}" if unit else f"{chk['measured']:.2f}x"
        goal = f"{chk['op']} {chk['goal']:g}{unit}" if unit else f"{chk['op']} {chk['goal']:g}x"
        verdict = "[green]PASS[/]" if chk["passed"] else "[red]FAIL[/]"
        if chk.get("note"):
            measured, verdict = "-", f"[yellow]no verdict ({chk['note']})[/]"
        c.add_row(chk["name"], measured, goal, verdict)
    console.print(c)


def _render_open_loop(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    t = Table(title="Fixed offered load (open loop: wrk on a schedule, single records)",
              title_justify="left")
    for col in ("config", "offered req/s", "achieved req/s", "p50 ms", "p90 ms", "p99 ms",
                "max ms", "late sends", "errors", f"p99 vs {BASELINE}"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for r in rows:
        ref = next((x for x in rows if x["config"] == BASELINE and x["rate"] == r["rate"]),
                   None)
        ratio = f"{r['p99_ms'] / ref['p99_ms']:.2f}x" if ref and ref["p99_ms"] else "-"
        late = f"{r['late_share']:.1%}" + (" (generator-limited)"
                                           if r["generator_limited"] else "")
        t.add_row(CONFIGS.get(r["config"], r["config"]), f"{r['rate']:,.0f}",
                  f"{r['req_per_s']:,.0f}", _ms(r, "p50_ms"), _ms(r, "p90_ms"),
                  _ms(r, "p99_ms"), _ms(r, "max_ms"), late, str(r["errors"]), ratio)
    console.print(t)


def _render_mixed(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    t = Table(title="Single-record requests while large requests flow (both open loop)",
              title_justify="left")
    for col in ("config", "singles req/s", "large requests", "singles p50 ms", "p99 ms",
                "max ms", "ratio of p99"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for m in rows:
        alone, beside = m["alone"], m["with_large"]
        large = m.get("large") or {}
        t.add_row(CONFIGS.get(m["config"], m["config"]) + " alone", f"{m['rate']:,.0f}", "-",
                  _ms(alone, "p50_ms"), _ms(alone, "p99_ms"), _ms(alone, "max_ms"), "1.00x")
        ratio = f"{beside['p99_ms'] / alone['p99_ms']:.2f}x" if alone["p99_ms"] else "-"
        big = (f"{m['large_rate']:g}/s x {m['size']:,} records (p50 "
               f"{large.get('p50_ms', 0):.0f} ms)")
        t.add_row(CONFIGS.get(m["config"], m["config"]) + " + large", f"{m['rate']:,.0f}", big,
                  _ms(beside, "p50_ms"), _ms(beside, "p99_ms"), _ms(beside, "max_ms"), ratio)
    console.print(t)


def _render_writers(console: Console, runs: Sequence[dict[str, Any]],
                    writers: Sequence[dict[str, Any]]) -> None:
    w = Table(title="Prediction-log writer: LogWriter + Database, 16-feature records",
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
