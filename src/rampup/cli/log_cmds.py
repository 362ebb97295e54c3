"""``rampup log ...``: the prediction log (``export`` joins predictions with their labels)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from rampup.cli._context import TIME_HELP, console, handle_errors, state
from rampup.errors import NotFoundError, ValidationError

log_app = typer.Typer(name="log", help="The prediction log: export predictions with labels.",
                      no_args_is_help=True)


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
        help="End of the time range, exclusive (default: now). Same forms as --since.")] = None,
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

    from rampup.predlog.export import export_predictions, parse_since  # start-up: pyarrow

    now = time.time()
    start = parse_since(since, now=now) if since is not None else None
    end = parse_since(until, now=now) if until is not None else None
    roles = _check_roles(role or [])
    store = state(ctx).store()
    if store.get_model(model) is None and store.count_predictions(model) == 0:
        known = ", ".join(m.name for m in store.list_models()) or "none yet"
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
