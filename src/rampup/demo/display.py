"""What the demo prints: its steps, the "open and try" panel, live status and the summary.

Rendering only; the numbers come from :mod:`rampup.demo.runner` and
:mod:`rampup.demo.traffic`. Commands are printed with soft wrapping, so a narrow terminal
wraps them visually but copying still gives the original lines.

>>> routes_text({"routes": {"v1": 90.0, "v2": 10.0}})
'v1 90%, v2 10%'
>>> print(json_lines({"age": 41, "region": "pacific", "has_cosigner": False}, width=30))
{"age": 41, "region": "pacific",
       "has_cosigner": false}
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from rampup.demo.traffic import TrafficStats


class Steps:
    """Numbered steps: a spinner while one runs, then a check mark, a note and the time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.n = 0

    @contextlib.contextmanager
    def step(self, title: str, doing: str) -> Iterator[Callable[[str], None]]:
        """``with steps.step("models", "training v1 and v2") as note: ...; note("done")``."""
        self.n += 1
        notes: list[str] = []
        t0 = time.perf_counter()
        try:
            with self.console.status(f"{doing}…"):
                yield notes.append
        except BaseException:
            self.console.print(f"[red]✗[/] [{self.n}] {title:<9} {escape(doing)}",
                               highlight=False)
            raise
        note = escape(notes[-1]) if notes else ""
        self.console.print(f"[green]✓[/] [{self.n}] [bold]{title:<9}[/] {note} "
                           f"[dim]({time.perf_counter() - t0:.1f} s)[/]",
                           highlight=False, soft_wrap=True)


def relative(path: Path) -> str:
    """``path`` relative to the current folder when below it, else absolute."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    return str(path.resolve())


def routes_text(policy: dict[str, Any]) -> str:
    routes = policy.get("routes") or {}
    return ", ".join(f"{v} {w:g}%" for v, w in routes.items()) or "none"


def json_lines(record: dict[str, Any], width: int = 62) -> str:
    """A JSON object over short lines (newlines inside shell quotes are fine)."""
    lines, line = [], ""
    for part in (f"{json.dumps(k)}: {json.dumps(v)}" for k, v in record.items()):
        if line and len(line) + len(part) + 2 > width:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {part}" if line else part
    lines.append(line)
    return "{" + "\n       ".join(lines) + "}"


def try_commands(url: str, model: str, record: dict[str, Any], response: dict[str, Any],
                 label: Any, token: str, project: str) -> str:
    """The shell commands to try, with the server's real answer filled in."""
    first = response["predictions"][0]
    proba = (first.get("probabilities") or {}).get("1")
    answer = (f"{response['version']} says {first['prediction']}"
              + (f" (P(default) {proba:.3f})" if proba is not None else ""))
    rid = response["request_id"]
    return f"""\
# predict one loan application (a real generated record)
curl -s {url}/v1/models/{model}/predict \\
  -H 'content-type: application/json' -H 'x-request-key: user-7' \\
  -d '{json_lines(record)}'
# -> {answer}; request_id {rid}

# its true label, sent later: feedback joins the prediction by request_id
curl -s {url}/v1/models/{model}/feedback \\
  -H 'content-type: application/json' \\
  -d '{{"request_id": "{rid}", "label": {json.dumps(label)}}}'

# versions, batch scoring (bad rows go to an error file), log export with labels
cd {project}
rampup versions
rampup predict-batch {model} data/batch_input.csv -o scored.parquet
rampup log export {model} --since 1h -o log.parquet

# send 10% of the traffic to v2 (needs the admin token, also in tokens.txt)
curl -s -X PUT \\
  {url}/v1/admin/models/{model}/deployment \\
  -H 'authorization: Bearer {token}' \\
  -H 'content-type: application/json' \\
  -d '{{"routes": {{"v1": 90, "v2": 10}}, "reason": "try v2 on 10%"}}'"""


def show_tour(console: Console, *, url: str, model: str, project: str, store: str,
              tokens: str, traffic: str, commands: str) -> None:
    """The panel of URLs, then the commands to try."""
    table = Table.grid(padding=(0, 2))
    for name, value in (("API docs", f"{url}/docs"), ("metrics", f"{url}/metrics"),
                        ("readiness", f"{url}/readyz"), ("models", f"{url}/v1/models"),
                        ("project", project), ("store", store),
                        ("admin token", f"{tokens} (mode 0600)"), ("traffic", traffic)):
        table.add_row(f"[bold]{name}[/]", escape(value))
    console.print(Panel(table, title=f"rampup demo: {model} is live", expand=False))
    console.print("[bold]Try it[/] in another terminal:")
    code = Syntax(commands, "bash", theme="ansi_dark", background_color="default")
    text = code.highlight(commands)
    text.rstrip()
    console.print(text, soft_wrap=True)


def status_line(stats: TrafficStats, queue_depth: str, routes: str) -> str:
    """One line of live status: recent latencies, totals since the start."""
    s = stats
    p50, p99 = s.latency.recent_quantile(0.5), s.latency.recent_quantile(0.99)
    lat = f"p50/p99 {p50:.0f}/{p99:.0f} ms" if p50 is not None and p99 is not None else "-"
    errors = s.client_errors + s.server_errors + s.transport_errors
    return (f"{time.strftime('%H:%M:%S')}  requests {s.sent:,} ({s.achieved_rate:.1f}/s) · "
            f"errors {errors} ({s.bad_rejected} on purpose) · labels {s.labels_sent:,} · "
            f"events {s.events_sent:,} · {lat} · log queue {queue_depth} · {routes}")


def show_summary(console: Console, stats: TrafficStats, *, logged: int, labelled: int,
                 total: int, store: str) -> None:
    s = stats
    p50, p99 = s.p50_ms, s.p99_ms
    rows = (
        ("requests", f"{s.sent:,} in {s.elapsed_s:.1f} s ({s.achieved_rate:.1f}/s): {s.ok:,} "
                     f"ok, {s.client_errors} 4xx ({s.bad_rejected} of {s.bad_sent} bad on "
                     f"purpose), {s.server_errors} 5xx, {s.transport_errors} failed"),
        ("latency", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (client side)"
         if p50 is not None and p99 is not None else "-"),
        ("feedback", f"{s.labels_sent:,} labels and {s.events_sent:,} events sent"
                     + (f", {s.labels_failed} labels refused" if s.labels_failed else "")),
        ("store", f"{logged:,} predictions logged this run, {labelled:,} with their label "
                  f"joined; {total:,} in all ({store})"),
    )
    table = Table.grid(padding=(0, 2))
    for name, value in rows:
        table.add_row(f"[bold]{name}[/]", escape(value))
    console.print(Panel(table, title="rampup demo: summary", expand=False))
