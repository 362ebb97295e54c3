"""The terminal side of a load test: the live progress line and the closing report."""

from __future__ import annotations

import collections
import math
import time
from typing import Any

import numpy as np
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from rampup.loadtest.latencies import quantile
from rampup.loadtest.runner import Tick
from rampup.loadtest.verdict import Report

RECENT_S = 2.0
STYLE = {"pass": "green", "fail": "bold red", "not judged": "yellow"}


class Live:
    """Progress bar over the scheduled requests with a live line: the answer rate and the
    p50/p99 of the answers of the last two seconds."""

    def __init__(self, console: Console, total: int, label: str) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[live]}"), console=console,
                                 transient=False, refresh_per_second=4)
        self.task = self.progress.add_task(label, total=total, live="")
        self.recent: collections.deque[tuple[float, list[float]]] = collections.deque()
        self.done = self.errors = 0

    def __enter__(self) -> Live:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def tick(self, t: Tick) -> None:
        now = time.monotonic()
        self.done += t.done
        self.errors += t.errors
        if t.latencies:
            self.recent.append((now, t.latencies))
        while self.recent and self.recent[0][0] < now - RECENT_S:
            self.recent.popleft()
        window = [x for _, xs in self.recent for x in xs]
        span = (now - self.recent[0][0] + 0.25) if self.recent else 1.0
        line = f"{len(window) / span:,.0f} req/s"
        if window:
            line += (f"  p50 {quantile(window, 0.5) * 1000:,.1f} ms"
                     f"  p99 {quantile(window, 0.99) * 1000:,.1f} ms")
        if self.errors:
            line += f"  [red]{self.errors:,} errors[/]"
        self.progress.update(self.task, completed=self.done, live=line)


def _ms(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:,.1f}"


def _rate(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:,.1f}"


def report(console: Console, r: Report, title: str) -> None:
    console.print(f"[bold]{title}[/]")
    rates = Table(title="rates per window (req/s)", title_justify="left")
    for col in ("from s", "offered", "achieved", "served", "send lag p99 ms", "p50 ms",
                "p99 ms", "errors", "generator"):
        rates.add_column(col, justify="right")
    for w in r.windows:
        rates.add_row(f"{w.start:g}", _rate(w.offered_rps), _rate(w.achieved_rps),
                      _rate(w.served_rps), _ms(w.lag_p99_ms), _ms(w.latency_ms.get("p50")),
                      _ms(w.latency_ms.get("p99")), f"{w.error_rate:.1%}"
                      if math.isfinite(w.error_rate) else "-",
                      "[green]ok[/]" if w.generator_ok else f"[yellow]{w.problem}[/]")
    lat = Table(title=f"latency over {r.requests:,} requests (ms, exact)", title_justify="left")
    for key in r.latency_ms:
        lat.add_column(key, justify="right")
    lat.add_row(*(_ms(v) for v in r.latency_ms.values()))
    console.print(rates, lat)
    console.print(Group(*_histogram(r)))
    kinds = ", ".join(f"{k} {n:,}" for k, n in r.outcomes.items())
    console.print(f"outcomes: {kinds}   error rate {r.error_rate:.2%}"
                  if math.isfinite(r.error_rate) else "outcomes: none")
    if r.from_send_ms:
        console.print(f"from the actual send (what a closed-loop tool reports): p50 "
                      f"{_ms(r.from_send_ms['p50'])} p99 {_ms(r.from_send_ms['p99'])} ms")
    console.print(f"rate: offered {_rate(r.offered_rps)}, achieved {_rate(r.achieved_rps)}, "
                  f"served {_rate(r.served_rps)} req/s;  send lag p50 "
                  f"{_ms(r.lag_ms['p50'])} p99 {_ms(r.lag_ms['p99'])} max "
                  f"{_ms(r.lag_ms['max'])} ms (bound {r.plan.lag_bound_ms:g} ms)")
    if r.capacity_rps is not None:
        console.print(f"SLOs held up to [bold]{r.capacity_rps:,.1f} req/s[/] offered")
    if r.generator_problem and r.generator_shortfall:
        console.print(f"[yellow]generator-limited, not server-limited: {r.generator_problem}."
                      "[/] Use more --processes, a lower rate, or a less loaded machine.")
    elif r.generator_problem:
        console.print(f"[yellow]the generator was late: {r.generator_problem}.[/] A latency "
                      "failure stands only where the lag cannot explain it.")
    if not r.verdicts:
        console.print("no SLO to judge: set slo: in rampup.yaml or pass --p99-ms, --p50-ms, "
                      "--expect-qps, --max-error-rate")
        return
    slo = Table(title="SLO verdicts", title_justify="left")
    for col in ("SLO", "target", "measured", "verdict", "detail"):
        slo.add_column(col)
    for v in r.verdicts:
        slo.add_row(v.name, f"{v.target:g}", "-" if v.measured is None else f"{v.measured:,.4g}",
                    f"[{STYLE[v.status]}]{v.status}[/]", v.detail)
    console.print(slo)


def _histogram(r: Report, width: int = 40) -> list[Text]:
    top = max((n for _, _, n in r.histogram), default=0)
    lines = [Text("latency histogram (ms, log bins)", style="bold")]
    for lo, hi, n in r.histogram:
        bar = "█" * (int(np.ceil(n / top * width)) if top and n else 0)
        lines.append(Text(f"{lo:>9,.1f} - {hi:>9,.1f} │{bar:<{width}} {n:,}"))
    return lines
