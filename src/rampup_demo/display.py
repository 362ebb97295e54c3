"""What the demo prints: its steps, the "open and try" panel, live status and the summary.

Rendering only; the numbers come from :mod:`rampup_demo.runner` and
:mod:`rampup_demo.traffic`. Commands are printed with soft wrapping, so a narrow terminal
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

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from rampup.rollout.agreement import AgreementResult
from rampup.rollout.machine import Rollout
from rampup.rollout.plan import Plan
from rampup_demo.dashboard_links import dashboard_urls
from rampup_demo.traffic import TrafficStats


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
                 label: Any, token: str, project: str, *, tour: bool = False) -> str:
    """The shell commands to try, with the server's real answer filled in. Without the
    rollout tour they include rolling v2 out yourself."""
    first = response["predictions"][0]
    proba = (first.get("probabilities") or {}).get("1")
    answer = (f"{response['version']} says {first['prediction']}"
              + (f" (P(default) {proba:.3f})" if proba is not None else ""))
    rid = response["request_id"]
    rollout = "" if tour else f"""
# roll v2 out: shadow, then 10% → 50% → 100% of the traffic, judged by checks
rampup deploy {model} v2 --strategy canary --plan plans/shadow-then-canary.yaml
rampup rollout status {model}
rampup rollback {model}          # during the rollout: all traffic back to v1 at once
"""
    by_hand = "after the tour, set" if tour else "or set"
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

# alarms, drift, the review queue (or {url}/review/{model}) and retraining
rampup alerts list {model}
rampup drift {model} --window 5m --windows 5
rampup review list {model}
rampup automation metrics {model}
rampup retrain list {model}
{rollout}
# {by_hand} the traffic policy by hand (needs the admin token, also in tokens.txt)
curl -s -X PUT \\
  {url}/v1/admin/models/{model}/deployment \\
  -H 'authorization: Bearer {token}' \\
  -H 'content-type: application/json' \\
  -d '{{"routes": {{"v1": 90, "v2": 10}}, "reason": "try v2 on 10%"}}'"""


def show_tour(console: Console, *, url: str, model: str, project: str, store: str,
              tokens: str, traffic: str, commands: str) -> None:
    """The panel of URLs (the dashboard first), then the commands to try."""
    table = Table.grid(padding=(0, 2))
    for name, value in (*dashboard_urls(url, model),
                        ("review queue", f"{url}/review/{model}"),
                        ("API docs", f"{url}/docs"), ("metrics", f"{url}/metrics"),
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


# -- the rollout tour -------------------------------------------------------------------------

def show_tour_intro(console: Console, rate: float, estimate_s: float, v2: Plan,
                    v3: Plan) -> None:
    steps = " → ".join(s.describe() for s in v2.steps)
    first, last = v2.steps[0], v2.steps[-1]
    lines = []
    for check in v2.checks:
        skipped = last.checks is not None and check not in last.checks
        note = (f"  [dim](not at {last.weight:g}%: the baseline serves "
                "nothing then to compare with)[/]") if skipped else ""
        lines.append(f"  {escape(check)}{note}")
    if first.kind == "shadow":
        lines.append(f"  [dim]in shadow: {escape(', '.join(v2.checks_for(first)))}[/]")
    console.print()
    console.rule(f"[bold]rollout tour[/] [dim](about {estimate_s:.0f} s at {rate:g} "
                 "predictions/s; --no-tour skips it)[/]")
    console.print(f"v2 replaces v1: {steps}, then promoted. Each step is held at least "
                  f"{first.min_duration_s:g} s and {first.min_requests} requests, then judged "
                  "by the server's rollout controller:\n" + "\n".join(lines)
                  + f"\nThen a broken v3 goes out on {v3.steps[0].describe()} and is rolled "
                    "back automatically.", highlight=False)


def show_candidate(console: Console, version: str, metadata: dict[str, Any],
                   baseline: str, baseline_metadata: dict[str, Any]) -> None:
    """What the candidate is and which data it learned from (next to the baseline's)."""
    algorithm = str(metadata.get("algorithm", "?")).replace("_", " ")
    auc = (metadata.get("metrics") or {}).get("auc")
    base_auc = (baseline_metadata.get("metrics") or {}).get("auc")
    text = f"\n[bold]{version}[/]: {algorithm}"
    trained = metadata.get("trained_on") or {}
    if trained.get("rows"):
        text += f", trained on {trained['rows']:,} applications of {_span(trained)}"
        base = baseline_metadata.get("trained_on") or {}
        if base.get("rows"):
            text += f" ({baseline} learned from {_span(base)}: {version}'s data is fresher)"
    if isinstance(auc, float):
        text += f"; holdout AUC {auc:.3f}"
        if isinstance(base_auc, float):
            text += f" ({baseline}: {base_auc:.3f})"
    console.print(text, highlight=False)


def _span(trained: dict[str, Any]) -> str:
    start, end = _when(trained["from"]), _when(trained["to"])
    same_day = start[:10] == end[:10]
    return f"{start}-{end[11:]}" if same_day else f"{start} to {end}"


def _when(iso: Any) -> str:
    """``2024-01-29T00:33:10+00:00`` as ``2024-01-29 00:33``."""
    return str(iso)[:16].replace("T", " ")


def step_doing(r: Rollout) -> str:
    step = r.current_step
    return step.describe() if step is not None else r.state


def _step_meaning(r: Rollout) -> str:
    step = r.current_step
    cand, base = r.candidate, r.baseline
    if step is None:
        return ""
    if step.kind == "shadow":
        return (f"{step.weight:g}% of requests also go to {cand}, off the hot path; callers "
                f"get {base}'s answers")
    if step.kind == "canary" and step.weight >= 100:
        return f"{cand} answers every request; {base} stays loaded as a warm standby"
    if step.kind == "canary":
        return (f"{cand} answers {step.weight:g}% of the requests (sticky per user), "
                f"{base} the rest")
    return step.describe()


def show_step_start(console: Console, r: Rollout) -> None:
    console.print(f"[cyan]▶[/] {r.candidate} step {r.step + 1}/{len(r.plan.steps)} "
                  f"[bold]{escape(step_doing(r))}[/]: {escape(_step_meaning(r))}",
                  highlight=False)


def metric_text(check: str, value: Any) -> str:
    """A check's number the way people read it.

    >>> metric_text("latency_p99 <= 1.2 * baseline", 12.345), metric_text("accuracy", 0.8712)
    ('12.3 ms', '87.1%')
    """
    if not isinstance(value, int | float):
        return "-"
    metric = check.split()[0]
    if metric.startswith("latency"):
        return f"{value:.1f} ms"
    if metric in ("error_rate", "accuracy", "agreement"):
        return f"{value:.1%}"
    if metric == "requests":
        return f"{value:,.0f}"
    return f"{value:.3g}"


def check_table(results: list[dict[str, Any]], candidate: str, baseline: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, pad_edge=False)
    table.add_column("check", no_wrap=True)
    for col in (candidate, baseline, "limit", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    colours = {"pass": "green", "fail": "red", "wait": "yellow"}
    for res in results:
        check = str(res.get("check", ""))
        verdict = str(res.get("verdict", ""))
        n = res.get("n")
        table.add_row(escape(check), metric_text(check, res.get("value")),
                      metric_text(check, res.get("baseline_value")),
                      metric_text(check, res.get("threshold")),
                      f"{n:,}" if isinstance(n, int) else "-",
                      f"[{colours.get(verdict, 'white')}]{verdict}[/]")
    return table


def agreement_text(result: AgreementResult, candidate: str, baseline: str) -> str:
    if not result.n or result.agreement is None:
        return f"no requests paired {candidate} with {baseline} yet"
    per_class = "; ".join(f"where {baseline} said {k}: {v:.1%}"
                          for k, v in sorted(result.per_class.items()))
    text = (f"{candidate} agreed with {baseline} on {result.agreement:.1%} of {result.n:,} "
            f"mirrored requests ({per_class})")
    if result.labelled and result.primary_accuracy is not None \
            and result.candidate_accuracy is not None:
        text += (f"; of the {result.labelled:,} labelled so far, {baseline} got "
                 f"{result.primary_accuracy:.1%} right and {candidate} "
                 f"{result.candidate_accuracy:.1%}")
    return text


def show_step_done(console: Console, r: Rollout, index: int, final: dict[str, Any] | None,
                   elapsed: float | None, agreement: AgreementResult | None) -> None:
    step = r.plan.steps[index]
    took = f" after {elapsed:.0f} s" if elapsed is not None else ""
    if final is None:
        console.print(f"  [yellow]·[/] {escape(step.describe())} ended{took} without a "
                      "verdict", highlight=False)
        return
    passed = final["verdict"] == "pass"
    mark, word = ("[green]✓[/]", "passed") if passed else ("[red]✗[/]", "failed")
    console.print(f"  {mark} {escape(step.describe())} {word}{took}", highlight=False)
    if agreement is not None:
        console.print(Padding(escape(agreement_text(agreement, r.candidate, r.baseline)),
                              (0, 0, 0, 2)), highlight=False)
    console.print(Padding(check_table(list(final.get("results") or []), r.candidate,
                                      r.baseline), (0, 0, 0, 2)))


def show_outcome(console: Console, r: Rollout, policy: dict[str, Any]) -> None:
    routes = routes_text(policy)
    if r.state == "promoted":
        console.print(f"[green bold]{r.candidate} promoted[/]: live routes {routes}; "
                      f"{r.baseline} stays warm for {r.plan.standby_keep_s:g} s so a rollback "
                      "is instant", highlight=False)
    elif r.state == "rolled_back":
        console.print(f"[red bold]{r.candidate} rolled back automatically[/]: live routes "
                      f"{routes}\n  why: {escape(r.reason)}", highlight=False)
    else:
        console.print(f"[yellow]{r.candidate}: {r.state}[/]: {escape(r.reason)}; live routes "
                      f"{routes}", highlight=False)


def show_bad_version(console: Console, path: str, added: bool) -> None:
    what = "registered" if added else "already registered"
    console.print(f"\n[bold]v3[/] ({what} from {path}): v1 behind a new feature step with a "
                  "bug; it fails on about 20% of applications", highlight=False)


def show_do_it_yourself(console: Console, model: str, project: str, plans: list[str],
                        seconds: float) -> None:
    shadow_plan, canary_plan = plans
    commands = f"""\
cd {project}
rampup rollout status {model}       # the last rollout: steps, check values, verdicts
rampup deploy {model} v3 --strategy canary --plan {canary_plan}
                                        # v3 again: watch the controller roll it back
rampup rollback {model}             # during a rollout: all traffic to the baseline at once
rampup deploy {model} v1 --strategy canary
                                        # the default plan: 5% → 25% → 50% → 100%, 2 min each
# with 'rampup demo --no-tour' v1 stays live; then roll v2 out yourself:
rampup deploy {model} v2 --strategy canary --plan {shadow_plan}"""
    console.rule(f"[bold]rollout tour done[/] [dim]in {seconds:.0f} s[/]")
    console.print("[bold]Do it yourself[/] in another terminal while the demo runs:")
    code = Syntax(commands, "bash", theme="ansi_dark", background_color="default")
    text = code.highlight(commands)
    text.rstrip()
    console.print(text, soft_wrap=True)
