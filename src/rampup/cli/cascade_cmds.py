"""``rampup monitor cascade PIPELINE``: which stage of a pipeline changed first.

Reads the store's metric windows (as the HTTP route ``/v1/models/{pipeline}/cascade``
does; see :mod:`rampup.monitor.cascade` for the method) and prints one table: stages
ranked by their first change, with the metrics that moved. :func:`render` draws a
payload (no I/O).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rampup.cli._context import console, handle_errors, state
from rampup.errors import ValidationError

SHOWN_METRICS = 4


@handle_errors
def cascade(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="A pipeline (a model with 'pipeline:').")],
    metric: Annotated[str, typer.Option(help="The end-to-end metric that moved.")
                      ] = "accuracy",
    since: Annotated[str, typer.Option(help="Start: -6h, epoch seconds or ISO 8601.")
                     ] = "-6h",
    until: Annotated[str | None, typer.Option(help="End (default: now).")] = None,
    step: Annotated[str, typer.Option(help="Window of each point, e.g. 5m.")] = "5m",
    baseline: Annotated[str | None, typer.Option(
        help="Baseline: a duration from the start (2h) or START..END; default: from the "
             "earliest data in the range (its first third), so a young deployment has "
             "one.")] = None,
    stage_metric: Annotated[list[str] | None, typer.Option(
        "--stage-metric", help="A stage metric to watch (repeatable; default: the usual "
                               "ones).")] = None,
    threshold: Annotated[float, typer.Option(min=0.5, help="Robust z-score to flag.")
                         ] = 4.0,
    for_windows: Annotated[int, typer.Option("--for", min=1, help="Windows in a row.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON payload.")
                       ] = False,
) -> None:
    """Rank a pipeline's stages by when their metrics first departed from baseline."""
    from rampup.durations import parse_duration, parse_time  # start-up time: FastAPI
    from rampup.monitor.cascade import Method
    from rampup.monitor.compute import check_metric
    from rampup.monitor.pipelines import cascade_report, stage_map
    from rampup.monitor.query import StoreMetricSource

    st = state(ctx)
    now = time.time()
    start = parse_time(since, "since", now)
    end = parse_time(until, "until", now) if until else now
    step_s = parse_duration(step, "step", positive=True)
    if end <= start:
        raise ValidationError("--until must be after --since", fix="swap them",
                              field="until")
    base: tuple[float, float] | None
    if baseline is None:
        base = None  # from the earliest data (see cascade_report)
    elif ".." in baseline:
        a, b = baseline.split("..", 1)
        base = (parse_time(a, "baseline", now), parse_time(b, "baseline", now))
    else:
        base = (start, start + parse_duration(baseline, "baseline"))
    project = st.project_file
    store = st.store()
    source = StoreMetricSource(store, stages=stage_map(project))
    payload = cascade_report(
        source, project, pipeline, metric=check_metric(metric), since=start, until=end,
        step_s=step_s, baseline=base,
        stage_metrics=[check_metric(m) for m in stage_metric] if stage_metric else None,
        method=Method(threshold=threshold, for_windows=for_windows))
    if as_json:
        typer.echo(json.dumps(payload))
        return
    console.print(render(payload))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _change(m: dict[str, Any]) -> str:
    ch = m["change"]
    arrow = "↑" if ch["direction"] == "up" else "↓"
    base = m["baseline"]["median"]
    return f"{m['metric']} {arrow} {base:.4g}→{ch['value']:.4g} (z {ch['z']:+.1f})"


def render(payload: dict[str, Any]) -> RenderableType:
    """The ranked stages (first change first) and the end-to-end metric's change."""
    e2e = payload.get("end_to_end") or {}
    e2e_change = e2e.get("change")
    head = Text.assemble(
        ("cascade ", "bold"), (payload["pipeline"], "bold cyan"),
        f"  end-to-end {payload['metric']}: ",
        (f"changed at {_when(e2e_change['start'])} "
         f"({e2e_change['direction']}, z {e2e_change['z']:+.1f})", "bold red")
        if e2e_change else ("no change", "green"))
    t = Table(title=f"baseline {_when(payload['baseline']['since'])} to "
                    f"{_when(payload['baseline']['until'])}, robust z ≥ "
                    f"{payload['method']['threshold']:g} for "
                    f"{payload['method']['for_windows']} windows", title_justify="left")
    for col in ("rank", "stage", "model", "first change", "metrics that moved"):
        t.add_column(col, justify="right" if col == "rank" else "left")
    for s in payload["stages"]:
        moved = [m for m in s["metrics"] if m["change"]]
        moved.sort(key=lambda m: m["change"]["start"])
        text = "; ".join(_change(m) for m in moved[:SHOWN_METRICS])
        if len(moved) > SHOWN_METRICS:
            text += f"; +{len(moved) - SHOWN_METRICS} more"
        style = "bold red" if s["stage"] == payload["first"] else ""
        t.add_row(str(s["rank"]), Text(s["stage"], style=style), s["model"],
                  _when(s["first_change"]), Text(text or "(no change)"))  # not markup
    verdict = Text(f"first to change: {payload['first']}" if payload["first"]
                   else "no stage changed", style="bold")
    return Group(head, t, verdict)
