"""Tail-latency parts of the serving benchmark: a fixed offered load and mixed sizes.

- **Open loop** (:func:`open_loop`): wrk held to a fixed schedule (``_openloop.py``: each
  request is due at ``t0 + i / rate`` whatever the answers do), so a slow server cannot
  slow the clock and its queueing shows in p99 (no coordinated omission). A run in
  which more than 1% of requests went out late (every connection still busy at its due
  time) is flagged ``generator_limited`` and gets no verdict.
- **Mixed sizes** (:func:`mixed`): single-record requests at a fixed rate, measured
  alone and then while a second wrk sends 1,000-record requests at a fixed rate to the
  same server: the singles' p99 with the large requests beside their p99 without. The
  two phases alternate in rounds.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from statistics import median
from typing import Any

from _openloop import parse

LATE_LIMIT = 0.01  # more than this share of late sends: the generator, not the server


def _pin(cpu: int | None) -> Any:
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return pin


def _cmd(wrk: str, url: str, script: Path, conns: int, seconds: float) -> list[str]:
    return [wrk, "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), url]


def open_loop(wrk: str, url: str, script: Path, *, conns: int, seconds: float,
              cpu: int | None) -> dict[str, Any]:
    """One open-loop run (``script`` from ``_openloop.lua_script``); latencies in ms."""
    out = subprocess.run(_cmd(wrk, url, script, conns, seconds), capture_output=True,
                         text=True, check=False, preexec_fn=_pin(cpu), timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    r = parse(out.stdout)
    r["generator_limited"] = r["late_share"] > LATE_LIMIT
    return r


def mixed(wrk: str, url: str, singles: Path, bigs: Path, *, conns: int, seconds: float,
          cpu: int | None) -> dict[str, Any]:
    """Singles (open loop, ``singles`` script) while ``bigs`` (open loop, 2 connections)
    runs beside them; returns the singles' result plus the large requests' own."""
    big = subprocess.Popen(_cmd(wrk, url, bigs, 2, seconds + 1), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=_pin(cpu))
    try:
        time.sleep(0.5)  # the large requests are flowing before the singles start
        small = open_loop(wrk, url, singles, conns=conns, seconds=seconds, cpu=cpu)
    finally:
        stdout, stderr = big.communicate(timeout=seconds + 60)
    if big.returncode != 0:
        raise RuntimeError(f"wrk (large requests) failed ({big.returncode}): {stderr}")
    small["large"] = parse(stdout)
    return small


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of one open-loop point (any late round flags the point)."""
    return {
        "req_per_s": median(r["req_per_s"] for r in rounds),
        **{f"{q}_ms": median(r[f"{q}_ms"] for r in rounds) for q in ("p50", "p90", "p99")},
        "max_ms": max(r["max_ms"] for r in rounds),
        "late_share": max(r["late_share"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "generator_limited": any(r.get("generator_limited", False) for r in rounds),
        "rounds": rounds,
    }
