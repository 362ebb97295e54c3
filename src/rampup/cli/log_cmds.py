"""``rampup log ...``: the prediction log (``export`` joins predictions with their labels)
and the dead letters of the background workers (``dead-letters``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from rampup.cli._context import TIME_HELP, console, handle_errors, state
from rampup.errors import NotFoundError, ValidationError

log_app = typer.Typer(name="log", help="The prediction log: export predictions with labels; "
                      "dead letters of the background workers.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")


ROLES = ("answer", "shadow", "canary", "batch")


@log_app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model whose predictions to export.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="File to write: *.parquet or *.csv.")],
    since: Annotated[str | None, typer.Option(
        help=f"Start of the time range (default: the beginning): {TIME_HELP}.")] = None,
    until: Annotated[str | None, typer.Option(
        help="End of the time range, exclusive (default: now). Same forms as --since; "
             "both are echoed as read.")] = None,
    version: Annotated[str | None, typer.Option(help="Only this version.")] = None,
    role: Annotated[list[str] | None, typer.Option(
        help=f"Only these roles ({', '.join(ROLES)}); repeat for several. Default: all.")] = None,
    labelled_only: Annotated[bool, typer.Option(
        "--labelled-only", help="Only predictions that have a label.")] = False,
    chunk_size: Annotated[int, typer.Option(
        min=1, help="Rows read and written at a time (memory stays constant).")] = 10_000,
) -> None:
    """Export predictions joined with their latest label, one column per input feature."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from rampup.durations import parse_instant
    from rampup.predlog.export import export_predictions  # start-up: pyarrow

    now = time.time()
    first = parse_instant(since, "since", now) if since is not None else None
    last = parse_instant(until, "until", now) if until is not None else None
    start = None if first is None else first.ts
    end = None if last is None else last.ts
    roles = _check_roles(role or [])
    store = state(ctx).store()
    if store.models.get_model(model) is None and store.predictions.count_predictions(model) == 0:
        known = ", ".join(m.name for m in store.models.list_models()) or "none yet"
        raise NotFoundError(f"model {model!r} has no predictions and is not registered",
                            fix=f"pick one of the registered models ({known})")
    progress = Progress(SpinnerColumn(), TextColumn("exporting [bold]{task.description}"),
                        BarColumn(bar_width=None, pulse_style="cyan"),
                        TextColumn("{task.completed:,} rows"), TimeElapsedColumn(),
                        console=console, transient=True)
    with progress:
        task = progress.add_task(model, total=None)
        summary = export_predictions(
            store, model, output, since=start, until=end, version=version, roles=roles,
            labelled_only=labelled_only, chunk_size=chunk_size,
            progress=lambda rows: progress.update(task, completed=rows))
    console.print(f"[green]exported[/] {summary.rows:,} predictions of [bold]{model}[/] "
                  f"({summary.labelled:,} labelled) to {summary.path}", highlight=False)
    for word, instant in (("since", first), ("until", last)):
        if instant is not None:  # how the time was read: never a silent surprise
            console.print(f"  {word} {instant.describe(now)}", highlight=False)
    if summary.dropped_columns:
        console.print("[yellow]note:[/] features first seen after the first "
                      f"{chunk_size:,} rows were left out: {', '.join(summary.dropped_columns)} "
                      "(raise --chunk-size so the first chunk holds them)", highlight=False)


def _check_roles(roles: list[str]) -> list[str] | None:
    for r in roles:
        if r not in ROLES:
            raise ValidationError(f"unknown role {r!r}", field="role",
                                  fix=f"use one of {', '.join(ROLES)}")
    return roles or None


@log_app.command("dead-letters")
@handle_errors
def dead_letters(
    ctx: typer.Context,
    worker: Annotated[str | None, typer.Option(
        help="Only this worker (log-writer, monitor, review-writer, alert-evaluator, ...).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    since: Annotated[str | None, typer.Option(help=f"Only newer ones: {TIME_HELP}.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many (newest first).")] = 20,
    payload: Annotated[bool, typer.Option(
        "--payload", help="Print each payload in full (as kept: escaped, size-capped).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False,
) -> None:
    """Records a background worker could not write (or stored only with values escaped),
    with the reason: what to look at when rampup_dead_letters_total moves."""
    from rich.table import Table

    from rampup.durations import parse_time

    start = parse_time(since, "since") if since is not None else None
    store = state(ctx).store()
    rows = store.dead_letters.list_dead_letters(worker=worker, model=model, since=start,
                                                limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    counts = store.dead_letters.count_dead_letters(since=start)
    if not rows:
        console.print("no dead letters" + (" matching" if worker or model else "") +
                      ": every record the workers handled was written")
        return
    table = Table(box=None, header_style="bold")
    for col in ("when (UTC)", "worker", "record", "model", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = datetime.fromtimestamp(r["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, r["worker"], r["key"] or "-", r["model"] or "-", r["reason"])
    console.print(table)
    if payload:
        for r in rows:
            console.rule(f"{r['worker']} {r['key'] or ''} ({r['payload_chars']:,} characters)")
            console.print(r["payload"], markup=False, highlight=False, soft_wrap=True)
    totals = ", ".join(f"{w} {n:,}" for w, n in sorted(counts.items()))
    console.print(f"{len(rows)} shown; in all: {totals}", highlight=False)
