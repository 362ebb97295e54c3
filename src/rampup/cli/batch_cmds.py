"""``rampup predict-batch``: score a CSV or Parquet file into a Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from rampup.cli._context import console, handle_errors, state
from rampup.errors import ConfigError

if TYPE_CHECKING:
    from rampup.batch import BatchSummary


def register(app: typer.Typer) -> None:
    app.command("predict-batch")(predict_batch_cmd)


@handle_errors
def predict_batch_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model to predict with.")],
    input_path: Annotated[str, typer.Argument(
        metavar="INPUT", help="A .csv (optionally compressed, e.g. .csv.gz) or .parquet file "
                              "(a path or an fsspec URL such as s3://bucket/in.parquet).")],
    output: Annotated[str, typer.Option(
        "--output", "-o", help="The Parquet file to write (input columns + predictions; a "
                               "path or a URL).")],
    errors: Annotated[str | None, typer.Option(
        "--errors", help="CSV of the rows that failed (default: <output stem>.errors.csv).")
    ] = None,
    key_column: Annotated[str | None, typer.Option(
        "--key-column", help="Route each row by this column's value, sticky like the "
                             "realtime request key (default: rows are routed at random).")
    ] = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="Use this version for every row instead of the deployment.")] = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", min=1, help="Rows read, predicted and written at a time.")] = 10_000,
    log: Annotated[bool, typer.Option(
        "--log/--no-log", help="Log every prediction to the prediction log.")] = True,
    engine: Annotated[Literal["local", "ray"], typer.Option(
        "--engine", help="local: this process. ray: Ray Data on a Ray cluster (needs "
                         "'rampup[ray]').")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="With --engine ray: the cluster to use (default: RAY_ADDRESS, "
                              "else a local Ray started for this run).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="With --engine ray: scoring workers (default: one per CPU "
                                 "of the cluster).")] = None,
) -> None:
    """Predict every row of a file in chunks with the model's current deployment.

    Bad rows are written to the errors file with their row numbers (1-based, header
    excluded) and the rest are predicted; the exit code stays 0. INPUT, --output and
    --errors may be fsspec URLs (s3://...): staged through a temporary folder.
    """
    from rampup.batch.remote import staged

    if engine != "ray" and (ray_address is not None or workers is not None):
        raise ConfigError("--ray-address and --workers go with --engine ray",
                          fix="add --engine ray, or drop them")
    st = state(ctx)
    with staged(input_path, output, errors, st.settings.artifact_storage_options) as files:
        summary = _run(ctx, model, files.input, files.output, errors=files.errors,
                       key_column=key_column, version=version, chunk_size=chunk_size, log=log,
                       engine=engine, ray_address=ray_address, workers=workers)
        summary = files.publish(summary)
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(summary_table(model, summary))
    if summary.failed:
        console.print(f"[yellow]{summary.failed:,} row(s) failed[/]: see {summary.errors}",
                      highlight=False)


def _run(ctx: typer.Context, model: str, input_path: Path, output: Path, *,
         errors: Path | None, key_column: str | None, version: str | None, chunk_size: int,
         log: bool, engine: str, ray_address: str | None, workers: int | None
         ) -> BatchSummary:
    # start-up time: pandas, pyarrow and the model flavors load only for this command
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rampup.batch import estimate_csv_rows, predict_batch
    from rampup.batch.reader import input_kind
    from rampup.registry.registry import Registry
    from rampup.security.privacy import load_privacy

    st = state(ctx)
    settings = st.settings
    store = st.store()
    registry = Registry.from_settings(settings, store)
    estimate = None
    if input_path.is_file() and input_kind(input_path) == "csv":
        estimate = estimate_csv_rows(input_path)
    progress = Progress(SpinnerColumn(), TextColumn("predicting [bold]{task.description}"),
                        BarColumn(bar_width=None), MofNCompleteColumn(), TextColumn("rows"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                        transient=True)

    with progress:
        task = progress.add_task(model, total=estimate)

        def update(done: int, total: int | None) -> None:
            known = total if total is not None else estimate
            if known is not None and done > known:
                known = done
            progress.update(task, completed=done, total=known)

        options: dict[str, Any] = {
            "errors_path": errors, "key_column": key_column, "version": version,
            "chunk_size": chunk_size, "log": log, "progress": update, "actor": "cli",
            "privacy": load_privacy(store, st.project_file, [model])}
        if engine == "ray":
            from rampup.batch.ray_engine import predict_batch_ray  # Ray: only here

            summary = predict_batch_ray(settings, store, registry, model, input_path, output,
                                        address=ray_address, workers=workers, **options)
        else:
            summary = predict_batch(store, registry, model, input_path, output, **options)
    return summary


def summary_table(model: str, summary: BatchSummary) -> Table:
    table = Table(title=f"predict-batch {model}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("predicted", f"[green]{summary.predicted:,}[/]")
    table.add_row("failed", f"[red]{summary.failed:,}[/]" if summary.failed else "0")
    for name, count in summary.versions.items():
        share = count / summary.predicted if summary.predicted else 0.0
        table.add_row(f"  by {name}", f"{count:,} ({share:.0%})")
    table.add_row("output", str(summary.output))
    table.add_row("errors", str(summary.errors) if summary.errors else "none")
    table.add_row("rows/s", f"{summary.rows_per_second:,.0f} ({summary.seconds:.1f} s)")
    table.add_row("request id", summary.request_id)
    return table
