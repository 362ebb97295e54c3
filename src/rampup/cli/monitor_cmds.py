"""``rampup monitor MODEL``: a live terminal view of a running server's key metrics and
alert states, read over its HTTP API (``/v1/models/{name}/metrics`` and ``/alerts``).

:func:`fetch` reads one snapshot (I/O), :func:`render` draws it (no I/O).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from rampup.cli._context import console, handle_errors
from rampup.durations import format_duration, parse_duration
from rampup.errors import NotFoundError, RampupError

if TYPE_CHECKING:
    import httpx

KEY = ("throughput", "error_rate", "latency_p50", "latency_p99", "requests", "model_cpu_ms")
PROCESS = ("in_flight", "log_queue_depth", "cpu_percent", "memory_rss_mb")
STATE_STYLE = {"ok": "green", "pending": "yellow", "firing": "bold red", "resolved": "cyan",
               "disabled": "dim"}
TOP_FEATURES = 5


class _MonitorGroup(TyperGroup):
    """``rampup monitor MODEL`` stays the live view; ``rampup monitor cascade PIPELINE``
    is a subcommand: any first word that is not a subcommand goes to ``live``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["live", *args]
        return super().parse_args(ctx, args)


def register(app: typer.Typer) -> None:
    from rampup.cli.cascade_cmds import cascade

    group = typer.Typer(cls=_MonitorGroup, no_args_is_help=True,
                        help="Live view of a model (rampup monitor MODEL); cascade view of "
                             "a pipeline (rampup monitor cascade PIPELINE).")
    group.command("live")(monitor)
    group.command("cascade")(cascade)
    app.add_typer(group, name="monitor")


@handle_errors
def monitor(
    model: Annotated[str, typer.Argument(help="Model name.")],
    url: Annotated[str, typer.Option(help="The server's base URL.")] = "http://127.0.0.1:8000",
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 2.0,
    window: Annotated[str, typer.Option(help="Span each number covers, e.g. 5m.")] = "5m",
    token: Annotated[str | None, typer.Option(
        envvar="RAMPUP_PREDICT_TOKEN", help="Bearer token (predict or admin), if the server "
        "needs one.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")
                    ] = False,
) -> None:
    """A live view: throughput, error rate, p50/p99 per version, in-flight, top missing
    features, class mix and alert states (Ctrl-C to quit)."""
    import httpx  # start-up time
    from rich.live import Live

    span = parse_duration(window, "--window", positive=True)
    token = token or os.environ.get("RAMPUP_ADMIN_TOKEN")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0) as client:
        if once:
            console.print(render(fetch(client, model, span)))
            return
        try:
            with Live(render(fetch(client, model, span)), console=console,
                      refresh_per_second=4, screen=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(render(fetch(client, model, span)))
        except KeyboardInterrupt:
            return


def fetch(client: httpx.Client, model: str, span: float) -> dict[str, Any]:
    """One snapshot: the catalogue, key metrics overall and per version, feature missing
    fractions, class shares and alert states."""
    cat = _get(client, f"/v1/models/{model}/metrics/catalogue")
    versions = sorted({w["version"] for w in cat.get("windows", [])
                       if w.get("role") == "answer" and not w.get("stage")})
    since = f"-{int(span)}s"

    def summary(metrics: list[str], version: str | None = None) -> dict[str, float | None]:
        if not metrics:
            return {}
        params: list[tuple[str, str]] = [("metric", m) for m in metrics]
        params += [("since", since), ("step", f"{int(span)}s")]
        if version is not None:
            params.append(("version", version))
        body = _get(client, f"/v1/models/{model}/metrics", params)
        out: dict[str, float | None] = body.get("summary", {})
        return out

    overall = summary([*KEY, *PROCESS])
    per_version = {v: summary(list(KEY), v) for v in versions}
    missing = summary([f"feature[{f}].missing_fraction" for f in cat.get("features", [])])
    classes = summary([f"class_share[{c}]" for c in cat.get("classes", [])])
    alerts = _get(client, f"/v1/models/{model}/alerts")
    return {"model": model, "span": span, "at": time.time(), "overall": overall,
            "versions": per_version, "missing": missing, "classes": classes,
            "alerts": alerts.get("alerts", [])}


def render(snap: dict[str, Any]) -> RenderableType:
    """Tables for one snapshot."""
    span = format_duration(snap["span"])
    o = snap["overall"]
    head = Text.assemble(
        (f"{snap['model']}", "bold"), f"  last {span}  ",
        (time.strftime("%H:%M:%S", time.localtime(snap["at"])), "dim"), "   in flight ",
        (_fmt(o.get("in_flight"), ".1f"), "bold"), "  log queue ",
        (_fmt(o.get("log_queue_depth"), ".0f"), "bold"), "  process cpu ",
        (_fmt(o.get("cpu_percent"), ".0f") + "%", "bold"), "  rss ",
        (_fmt(o.get("memory_rss_mb"), ".0f") + " MB", "bold"))
    versions = Table(title="traffic", title_justify="left")
    for col in ("version", "req/s", "requests", "error rate", "p50 ms", "p99 ms",
                "cpu ms/call"):
        versions.add_column(col, justify="left" if col == "version" else "right")
    rows = [("all", o), *snap["versions"].items()]
    for name, m in rows:
        err = m.get("error_rate")
        versions.add_row(name, _fmt(m.get("throughput"), ".2f"), _fmt(m.get("requests"), ".0f"),
                         Text(_fmt(err, ".2%"), style="red" if err and err > 0.01 else ""),
                         _fmt(m.get("latency_p50"), ".1f"), _fmt(m.get("latency_p99"), ".1f"),
                         _fmt(m.get("model_cpu_ms"), ".2f"))
    parts: list[RenderableType] = [head, versions]
    side = Table.grid(padding=(0, 4))
    side.add_row(_top_missing(snap["missing"]), _class_mix(snap["classes"]))
    parts.append(side)
    parts.append(_alerts(snap["alerts"]))
    return Group(*parts)


def _top_missing(missing: dict[str, float | None]) -> Table:
    t = Table(title="most missing inputs", title_justify="left")
    t.add_column("feature")
    t.add_column("missing", justify="right")
    ranked = sorted(((k, v) for k, v in missing.items() if v is not None),
                    key=lambda kv: -kv[1])[:TOP_FEATURES]
    for key, value in ranked:
        name = key.removeprefix("feature[").removesuffix("].missing_fraction")
        t.add_row(Text(name), Text(f"{value:.1%}", style="yellow" if value > 0.05 else ""))
    if not ranked:
        t.add_row("(no data)", "")
    return t


def _class_mix(classes: dict[str, float | None]) -> Table:
    t = Table(title="class mix", title_justify="left")
    t.add_column("class")
    t.add_column("share", justify="right")
    shown = [(k, v) for k, v in classes.items() if v is not None]
    for key, value in shown:
        t.add_row(Text(key.removeprefix("class_share[").removesuffix("]")), f"{value:.1%}")
    if not shown:
        t.add_row("(no data)", "")
    return t


def _alerts(alerts: list[dict[str, Any]]) -> Table:
    t = Table(title="alerts", title_justify="left")
    for col in ("rule", "state", "severity", "condition", "value", "since"):
        t.add_column(col)
    order = {"firing": 0, "pending": 1, "resolved": 2, "ok": 3, "disabled": 4}
    for a in sorted(alerts, key=lambda a: (order.get(a["state"], 9), a["name"])):
        value = "no data" if a.get("no_data") else _fmt(a.get("value"), ".4g")
        since = "" if a.get("since") is None else \
            format_duration(max(0.0, round(time.time() - a["since"])))
        cond = a["condition"] + (f" [{a['scope']}]" if a.get("scope") else "")
        t.add_row(a["name"], Text(a["state"], style=STATE_STYLE.get(a["state"], "")),
                  a["severity"], Text(cond), value, since)
    if not alerts:
        t.add_row("(no rules)", "", "", "", "", "")
    return t


def _get(client: httpx.Client, path: str,
         params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    import httpx

    try:
        resp = client.get(path, params=[(k, v) for k, v in params or []])
    except httpx.HTTPError as exc:
        raise RampupError(f"cannot reach the server at {client.base_url}: {exc}",
                          fix="start it with 'rampup serve' or pass --url") from None
    if resp.status_code == 404:
        raise NotFoundError(resp.json().get("message", f"{path} not found"),
                            fix="check the model name ('rampup versions')")
    if resp.status_code >= 400:
        try:
            body = resp.json()
        except ValueError:
            body = {"message": resp.text[:200]}
        raise RampupError(f"{path}: HTTP {resp.status_code}: {body.get('message')}",
                          fix=body.get("fix") or "check --url and --token")
    data: dict[str, Any] = resp.json()
    return data


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
