"""Numbers and tables of benchmarks/rollout.py: pure summaries, then rich rendering.

>>> runs = [{"decision_s": 6.0, "bad": 110, "total": 1200, "failed": 22, "served_per_s": 190},
...         {"decision_s": 5.0, "bad": 100, "total": 1000, "failed": 19, "served_per_s": 200}]
>>> s = summarize_canary(runs)
>>> s["decision_s"], s["bad"], round(s["share"], 4)
(5.5, 105.0, 0.0958)
>>> def phase(p99, other=0.0):
...     return {"ms": [1.0, 2.0, p99], "p99_ms": p99, "requests": 3, "errors": 0, "missed": 0,
...             "cpu_s": 0.003, "outside_load": other}
>>> rounds = [{"off": phase(10), "on": phase(10.5)}, {"off": phase(10), "on": phase(30, 0.5)},
...           {"off": phase(12), "on": phase(12.6)}, {"off": phase(11), "on": phase(11.5)}]
>>> t = summarize_shadow(rounds)["target"]
>>> round(t["measured"], 3), t["rounds_used"], t["passed"]
(1.05, 3, True)
>>> summarize_shadow([{"off": phase(10, 0.5), "on": phase(9, 0.5)}])["target"]["passed"] is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

P99_FACTOR = 1.10  # the target: the primary's p99 with a shadow within 10%
QUIET = 0.15  # other processes using more of a CPU than this disturb a phase
MIN_QUIET = 3  # fewer quiet rounds than this: the verdict is inconclusive
KINDS = {"cpu": "cpu (holds GIL)", "gil-free": "waits (no GIL)"}


def _median(values: Sequence[float | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return float(median(xs)) if xs else None


def summarize_canary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeated runs of one bad candidate (runs that never rolled back
    count in ``not_rolled_back`` and are left out of the medians)."""
    done = [r for r in runs if r.get("decision_s") is not None]
    shares = [r["bad"] / r["total"] for r in done if r.get("total")]
    decisions = [r["decision_s"] for r in done]
    return {"runs": len(runs), "not_rolled_back": len(runs) - len(done),
            "decision_s": _median(decisions),
            "decision_range_s": (min(decisions), max(decisions)) if decisions else None,
            "last_bad_s": _median([r.get("last_bad_s") for r in done]),
            "bad": _median([r["bad"] for r in done]),
            "total": _median([r["total"] for r in done]),
            "failed": _median([r["failed"] for r in done]),
            "served_per_s": _median([r.get("served_per_s") for r in done]),
            "outside_load": _median([r.get("outside_load") for r in done]),
            "share": _median(shares)}


def latency_summary(ms: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(ms, dtype=np.float64)
    if not a.size:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None}
    return {"n": int(a.size), "p50_ms": float(np.quantile(a, 0.5)),
            "p90_ms": float(np.quantile(a, 0.9)), "p99_ms": float(np.quantile(a, 0.99))}


def summarize_shadow(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """One model kind: latencies per phase pooled over all rounds, and the verdict on the
    p99 with shadow / without pooled over the quiet rounds (other processes used at most
    ``QUIET`` of the server's and of the client's CPU in both phases of the round). With
    fewer than ``MIN_QUIET`` quiet rounds the verdict is None (inconclusive)."""
    out: dict[str, Any] = {}
    for phase in ("off", "on"):
        ps = [r[phase] for r in rounds]
        requests = sum(p["requests"] for p in ps)
        out[phase] = {**latency_summary([x for p in ps for x in p["ms"]]),
                      "round_p99_ms": [p["p99_ms"] for p in ps],
                      "errors": sum(p["errors"] for p in ps),
                      "missed": sum(p["missed"] for p in ps),
                      "cpu_ms_per_req": sum(p["cpu_s"] for p in ps) * 1000 / max(1, requests),
                      "outside_load": [p["outside_load"] for p in ps],
                      "outside_load_client": [p.get("outside_load_client") for p in ps]}
    ratios = [r["on"]["p99_ms"] / r["off"]["p99_ms"]
              if r["on"]["p99_ms"] and r["off"]["p99_ms"] else None for r in rounds]
    quiet = [i for i, r in enumerate(rounds) if all(
        (r[p].get(key) or 0.0) <= QUIET for p in ("off", "on")
        for key in ("outside_load", "outside_load_client"))]
    noisy = len(quiet) < MIN_QUIET
    used = list(range(len(rounds))) if noisy else quiet
    pooled = {p: latency_summary([x for i in used for x in rounds[i][p]["ms"]])["p99_ms"]
              for p in ("off", "on")}
    measured = pooled["on"] / pooled["off"] if pooled["on"] and pooled["off"] else None
    out["round_ratios"] = ratios
    out["quiet_rounds"] = quiet
    out["median_round_ratio"] = _median([ratios[i] for i in used])
    out["target"] = {"name": "primary p99 with shadow / without",
                     "measured": measured, "p99_off_ms": pooled["off"],
                     "p99_on_ms": pooled["on"], "op": "<=", "goal": P99_FACTOR,
                     "rounds_used": len(used), "all_rounds_noisy": noisy,
                     "passed": None if noisy or measured is None else measured <= P99_FACTOR}
    return out


def _s(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def render(console: Console, canary: dict[str, dict[str, Any]],
           shadow: dict[str, Any] | None, rate: float) -> None:
    if canary:
        _render_canary(console, canary, rate)
    if shadow is not None:
        _render_shadow(console, shadow)


def _render_canary(console: Console, canary: dict[str, dict[str, Any]], rate: float) -> None:
    t = Table(title=f"Bad candidates on a canary plan (first step 10%, {rate:g} req/s offered)",
              title_justify="left")
    for col in ("candidate", "runs", "rollback after s", "bad answers", "share", "5xx",
                "served req/s", "other load", "failed check"):
        t.add_column(col, justify="left" if col in ("candidate", "failed check") else "right")
    for name, c in canary.items():
        s = c["summary"]
        rng = s["decision_range_s"]
        decision = _s(s["decision_s"]) + (f" ({rng[0]:.1f}-{rng[1]:.1f})"
                                          if rng and s["runs"] > 1 else "")
        if s["not_rolled_back"]:
            decision += f", {s['not_rolled_back']} not rolled back"
        t.add_row(name, str(s["runs"]), decision, _s(s["bad"], "{:.0f}"),
                  _s(None if s["share"] is None else s["share"] * 100, "{:.1f}%"),
                  _s(s["failed"], "{:.0f}"), _s(s["served_per_s"], "{:.0f}"),
                  _s(None if s["outside_load"] is None else s["outside_load"] * 100,
                     "{:.0f}%"), c.get("failed_check", "-"))
    console.print(t)
    console.print("  rollback after: deploy call to the controller's rollback (server clock; "
                  "range over runs); bad answers: requests the bad version answered; share: "
                  "of all requests sent from the deploy to its last answer; 5xx: failed "
                  "requests users saw; other load: share of the server's CPU used by other "
                  "processes (medians over runs)", highlight=False)


def _render_shadow(console: Console, shadow: dict[str, Any]) -> None:
    t = Table(title="Primary latency with and without a shadow of equal cost (client side)",
              title_justify="left")
    for col in ("model", "shadow", "requests", "p50 ms", "p99 ms", "quiet rounds",
                "p99 ms quiet", "server CPU ms/req"):
        t.add_column(col, justify="left" if col in ("model", "shadow") else "right")
    kinds = [k for k in shadow if k != "shadow_outcomes"]
    for kind in kinds:
        k = shadow[kind]
        tgt = k["target"]
        quiet = "none" if tgt["all_rounds_noisy"] else \
            f"{len(k['quiet_rounds'])} of {len(k['round_ratios'])}"
        for phase in ("off", "on"):
            p = k[phase]
            t.add_row(KINDS.get(kind, kind) if phase == "off" else "",
                      "100% mirrored" if phase == "on" else "none", f"{p['n']:,}",
                      _s(p["p50_ms"], "{:.2f}"), _s(p["p99_ms"], "{:.2f}"),
                      quiet if phase == "off" else "",
                      "-" if tgt["all_rounds_noisy"] else _s(tgt[f"p99_{phase}_ms"], "{:.2f}"),
                      _s(p["cpu_ms_per_req"], "{:.2f}"))
    console.print(t)
    for kind in kinds:
        k = shadow[kind]
        tgt = k["target"]
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]"}.get(
            tgt["passed"], f"[yellow]INCONCLUSIVE[/] (fewer than {MIN_QUIET} quiet rounds: "
                           "rerun when the machine is idle)")
        measured = "-" if tgt["measured"] is None else f"{tgt['measured']:.2f}x"
        which = "all rounds (too few quiet)" if tgt["all_rounds_noisy"] else \
            f"the {tgt['rounds_used']} quiet rounds"
        med = "-" if k["median_round_ratio"] is None else f"{k['median_round_ratio']:.2f}x"
        console.print(f"  {KINDS.get(kind, kind)}: {tgt['name']}, pooled over {which}: "
                      f"{_s(tgt['p99_on_ms'])} / {_s(tgt['p99_off_ms'])} ms = {measured} "
                      f"(goal {tgt['op']} {tgt['goal']:.2f}x) {verdict}; median of the "
                      f"per-round ratios {med}", highlight=False)
    console.print(f"  shadow calls by outcome: {shadow['shadow_outcomes'] or 'none counted'}; "
                  f"a round is quiet when other processes used at most {QUIET:.0%} of the "
                  "server's and of the client's CPU in both phases", highlight=False)
