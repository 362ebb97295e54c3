"""``rampup evaluate`` and ``rampup compare``: offline evaluation, kept with the version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from rampup.cli._context import console, err_console, handle_errors, state
from rampup.errors import ValidationError

if TYPE_CHECKING:
    from rampup.analysis.compare import Comparison
    from rampup.analysis.evaluate import Evaluation
    from rampup.analysis.report import Report
    from rampup.registry.registry import Registry

# The analysis modules (pandas, SciPy, scikit-learn) are imported inside the commands:
# start-up time of every other command and of --help.


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
    app.command("compare")(compare_cmd)


DataOpt = Annotated[Path | None, typer.Option(
    "--data", "-d", help="Labelled data (CSV/Parquet) to evaluate on.")]
LabelOpt = Annotated[str | None, typer.Option(
    "--label-column", "-l", help="The column with the true labels.")]
SliceOpt = Annotated[list[str] | None, typer.Option(
    "--slice", "-s", help="Slice by COLUMN (by value; numeric with many values: 5 quantile "
                          "bins), COLUMN:N (N quantile bins) or an expression like "
                          "\"age >= 60\". Repeat for several.")]
MetricOpt = Annotated[list[str] | None, typer.Option(
    "--metric", "-m", help="Metric per slice (default: accuracy, precision, recall, f1; "
                           "regression: mae, rmse, r2). Repeat for several.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="Report format: md, html or json (default: from the -o suffix). "
                           "Without -o, the report is printed in this format.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")]
StoreOpt = Annotated[bool, typer.Option(
    "--store/--no-store", help="Keep the result with the version (experiment record).")]


def _registry(ctx: typer.Context) -> Registry:
    from rampup.registry.registry import Registry

    st = state(ctx)
    return Registry.from_settings(st.settings, st.store())


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _emit(report: Report, fmt: str | None, output: Path | None) -> bool:
    """Write or print the report; True when it was printed (then skip the summary)."""
    from rampup.analysis.report import FORMATS, format_for, render, write

    if fmt is not None and fmt not in FORMATS:
        raise ValidationError(f"unknown report format {fmt!r}", fix="use md, html or json")
    if output is not None:
        path = write(report, output, format_for(output, fmt))
        err_console.print(f"report written to {path}", highlight=False)
        return False
    if fmt is not None:
        typer.echo(render(report, fmt), nl=False)
        return True
    return False


def _need(data: Path | None, label_column: str | None) -> tuple[Path, str]:
    if data is None or label_column is None:
        raise ValidationError("--data and --label-column are needed to evaluate",
                              fix="rampup evaluate MODEL@VERSION --data holdout.parquet "
                                  "--label-column y")
    return data, label_column


def _print_evaluation(ev: Evaluation) -> None:
    from rampup.analysis.report import format_value

    r = ev.result
    overall = ev.result.get("overall_intervals") or {}
    table = Table(title=f"{ev.target} on {ev.data} ({r['n']} rows)", title_justify="left",
                  box=None, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% interval" if overall else "", justify="right")

    def add(name: str, value: Any, key: str | None = None) -> None:
        ci = overall.get(key or name)
        table.add_row(name, format_value(value),
                      f"{format_value(ci[0])} to {format_value(ci[1])}" if ci else "")

    if r["kind"] == "classification":
        add("accuracy", r["accuracy"])
        base = r["majority_baseline"]
        table.add_row(f"majority baseline (always {base['class']})",
                      format_value(base["accuracy"]), "")
        add("balanced accuracy", r["balanced_accuracy"])
        add("macro F1", r["averages"]["macro"]["f1"], "f1_macro")
        for m, v in (r.get("positive") or {}).items():
            if m in ("precision", "recall", "f1"):
                add(f"{m} ({r['positive_class']})", v, m)
        if r.get("roc_auc") is not None:
            add("ROC AUC", r["roc_auc"], "roc_auc")
        if r.get("pr_auc") is not None:
            add("PR AUC", r["pr_auc"], "pr_auc")
    elif r["kind"] == "regression":
        for m in ("mae", "rmse", "r2", "bias"):
            add(m.upper() if m != "bias" else "bias", r[m], m)
    else:
        for m, v in r["metrics"].items():
            add(m, v, m)
    console.print(table)
    for w in ev.report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if ev.slices is not None:
        _print_flagged(ev)


def _print_flagged(ev: Evaluation) -> None:
    from rampup.analysis.sections import SMALL_SLICE, slice_flag

    assert ev.slices is not None
    t = ev.slices
    flagged = [(r, slice_flag(r, t.overall, t.metrics)) for r in t.rows]
    worse = [(r, f) for r, f in flagged if f and f != "few examples"]
    console.print(f"{len(t.rows)} slices; {len(worse)} worse than overall", highlight=False)
    for r, f in worse[:10]:
        console.print(f"  {r.grouping} = {r.slice} (n={r.n}): {f}", highlight=False,
                      soft_wrap=True)
    small = sum(1 for r in t.rows if r.n < SMALL_SLICE)
    if small:
        console.print(f"  {small} slice(s) have fewer than {SMALL_SLICE} examples",
                      highlight=False)


@handle_errors
def evaluate_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(
        help="MODEL@VERSION (a bare MODEL means its live version).")],
    data: DataOpt = None,
    label_column: LabelOpt = None,
    slices: SliceOpt = None,
    metrics: MetricOpt = None,
    prediction_column: Annotated[str | None, typer.Option(
        help="Read predictions from this column instead of running the version.")] = None,
    score_column: Annotated[list[str] | None, typer.Option(
        help="With --prediction-column: score column(s), one per class in class order or "
             "the positive-class score.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals "
                                                "(0: none).")] = 200,
    ci: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    pos_label: Annotated[str | None, typer.Option(help="The positive class.")] = None,
    task: Annotated[str | None, typer.Option(
        help="Score the predictions as a task: transcription (WER/CER), ranking "
             "(MRR, recall/NDCG/mAP@k) or detection (mAP@IoU0.5); default: the "
             "version's output task.")] = None,
    k: Annotated[int, typer.Option(help="Cut-off of the ranking metrics.")] = 10,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    store: StoreOpt = True,
) -> None:
    """Evaluate a version on labelled data: metrics, slices, calibration; keep the result."""
    from rampup.analysis.evaluate import evaluate

    path, label = _need(data, label_column)
    registry = _registry(ctx)
    with _progress(f"predicting with {target}") as progress:
        ev = evaluate(registry, target, path, label_column=label, slices=slices or (),
                      metrics=metrics or None, prediction_column=prediction_column,
                      score_columns=score_column, bootstrap=bootstrap, ci=ci, seed=seed,
                      pos_label=pos_label, task=task, k=k, store=store, actor="cli",
                      progress=progress)
    if _emit(ev.report, fmt, output):
        return
    _print_evaluation(ev)
    if ev.record_id is not None:
        console.print(f"stored as evaluation #{ev.record_id}", highlight=False)


def _print_comparison(c: Comparison) -> None:
    from rampup.analysis.report import format_value

    a, b = c.names
    table = Table(title=f"{a} (champion) vs {b} (challenger), {c.n} rows", title_justify="left",
                  box=None, header_style="bold")
    for col in ("metric", a, b, "delta", f"{c.ci:.0%} interval", "better"):
        table.add_column(col, justify="left" if col in ("metric", "better") else "right")
    for d in c.deltas:
        table.add_row(d.metric, format_value(d.champion), format_value(d.challenger),
                      format_value(d.delta),
                      f"{format_value(d.lo)} to {format_value(d.hi)}" if c.n_resamples else "",
                      d.better or "-")
    console.print(table)
    if c.mcnemar is not None:
        m = c.mcnemar
        console.print(f"only {a} right: {m.only_champion}, only {b} right: {m.only_challenger}; "
                      f"McNemar ({m.method}) p = {format_value(m.p_value)}", highlight=False)
    if c.agreement is not None:
        console.print(f"same prediction on {c.agreement:.1%} of rows", highlight=False)
    worse = [(s, d) for s in c.slices for d in s.deltas if d.better == "champion"]
    for s, d in worse[:10]:
        console.print(f"  {s.grouping} = {s.slice} (n={s.n}): {d.metric} "
                      f"{format_value(d.delta)} for the challenger", highlight=False)


def _stored_side_by_side(registry: Registry, targets: list[str]) -> None:
    """The latest stored evaluation of each version, as columns of one table."""
    from rampup.analysis.evaluate import resolve_version
    from rampup.analysis.report import format_value

    records = [resolve_version(registry, t) for t in targets]
    table = Table(title="stored evaluations (latest of each version)", title_justify="left",
                  box=None, header_style="bold")
    table.add_column("")
    summaries = []
    for rec in records:
        evs = registry.store.evaluations.list_evaluations(rec.model, rec.version,
                                                          kind="evaluation", limit=1)
        summaries.append(evs[0].summary if evs else {})
        table.add_column(f"{rec.model}@{rec.version}", justify="right")
    if not any(summaries):
        console.print("no stored evaluations for these versions; run 'rampup evaluate "
                      "MODEL@VERSION --data ... --label-column ...' first, or pass --data")
        return
    keys = list(dict.fromkeys(k for s in summaries for k in s))
    for k in keys:
        table.add_row(k, *(format_value(s.get(k)) for s in summaries))
    console.print(table)


@handle_errors
def compare_cmd(
    ctx: typer.Context,
    champion: Annotated[str, typer.Argument(help="MODEL@VERSION of the champion.")],
    challenger: Annotated[str, typer.Argument(help="MODEL@VERSION of the challenger.")],
    data: DataOpt = None,
    label_column: LabelOpt = None,
    slices: SliceOpt = None,
    metrics: MetricOpt = None,
    id_column: Annotated[str | None, typer.Option(
        help="Column naming the rows in the examples where they disagree.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Paired bootstrap resamples (0: none).")] = 500,
    ci: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    pos_label: Annotated[str | None, typer.Option(help="The positive class.")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    store: StoreOpt = True,
) -> None:
    """Champion vs challenger on the same data: deltas with paired-bootstrap intervals,
    McNemar, per slice, disagreements. Without --data: their stored evaluations side by
    side."""
    from rampup.analysis.evaluate import compare_versions

    registry = _registry(ctx)
    if data is None and label_column is None:
        _stored_side_by_side(registry, [champion, challenger])
        return
    path, label = _need(data, label_column)
    with _progress("predicting with both versions") as progress:
        vc = compare_versions(registry, champion, challenger, path, label_column=label,
                              slices=slices or (), metrics=metrics or None,
                              bootstrap=bootstrap, ci=ci, seed=seed, pos_label=pos_label,
                              id_column=id_column, store=store, actor="cli", progress=progress)
    if _emit(vc.report, fmt, output):
        return
    _print_comparison(vc.comparison)
    if vc.record_id is not None:
        console.print(f"stored as comparison #{vc.record_id} of {vc.challenger}",
                      highlight=False)

