"""``rampup errors``, ``audit``, ``labels`` and ``split``: data and model quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import rich.table
import typer

from rampup.cli._context import console, err_console, handle_errors, state
from rampup.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from rampup.analysis.report import Report, Table

# The analysis modules (pandas, SciPy, scikit-learn) are imported inside each command:
# start-up time of every other command and of --help.


def register(app: typer.Typer) -> None:
    app.command("errors")(errors_cmd)
    app.command("audit")(audit_cmd)
    app.command("labels")(labels_cmd)
    app.command("split")(split_cmd)


DataOpt = Annotated[Path, typer.Option("--data", "-d", help="Labelled data (CSV/Parquet).")]
LabelOpt = Annotated[str, typer.Option("--label-column", "-l", help="The true labels.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="Report format: md, html or json (default: from the -o suffix). "
                           "Without -o, the report is printed in this format.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")]


# -- showing reports --------------------------------------------------------------------------

def _numeric(v: Any) -> bool:
    import numpy as np

    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _show(report: Report) -> None:
    """A report on the terminal: rich tables for its tables."""
    from rampup.analysis.report import KeyValues, Table, Text, Warnings, format_value

    console.print(f"[bold]{report.title}[/]", highlight=False)
    for k, v in report.meta.items():
        console.print(f"[dim]{k}:[/] {format_value(v)}", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    for section in report.sections:
        console.print(f"\n[bold cyan]{section.title}[/]", highlight=False)
        for b in section.blocks:
            if isinstance(b, Text):
                console.print(b.text, highlight=False)
            elif isinstance(b, KeyValues):
                for k, v in b.items:
                    console.print(f"  {k}: [bold]{format_value(v)}[/]", highlight=False)
            elif isinstance(b, Warnings):
                for w in b.items:
                    console.print(f"[yellow]warning:[/] {w}", highlight=False)
            elif isinstance(b, Table):
                _table(b)


def _table(b: Table) -> None:
    from rampup.analysis.report import format_value

    t = rich.table.Table(title=b.title or None, caption=b.note or None,
                         caption_justify="left")
    for j, c in enumerate(b.columns):
        right = bool(b.rows) and all(j >= len(r) or r[j] is None or _numeric(r[j])
                                     for r in b.rows)
        t.add_column(c, justify="right" if right else "left", overflow="fold")
    for row in b.rows:
        cells = [format_value(v) for v in row]
        style = "red" if "FAIL" in cells else None
        t.add_row(*cells, style=style)
    console.print(t)


def _emit(report: Report, fmt: str | None, output: Path | None) -> None:
    """Write the report to ``output``, print it in ``fmt``, or show it as tables."""
    from rampup.analysis.report import FORMATS, format_for, render, write

    if fmt is not None and fmt not in FORMATS:
        raise ValidationError(f"unknown report format {fmt!r}", fix="use md, html or json")
    if output is not None:
        _show(report)
        path = write(report, output, format_for(output, fmt))
        err_console.print(f"report written to {path}", highlight=False)
    elif fmt is not None:
        typer.echo(render(report, fmt), nl=False)
    else:
        _show(report)


# -- rampup errors ----------------------------------------------------------------------------

def _column(frame: pd.DataFrame, name: str, what: str) -> pd.Series:
    if name not in frame.columns:
        raise ValidationError(f"{what} {name!r} is not in the data",
                              fix=f"use one of: {', '.join(map(str, frame.columns))}")
    return frame[name]


@handle_errors
def errors_cmd(
    ctx: typer.Context, data: DataOpt, label_column: LabelOpt,
    prediction_column: Annotated[str, typer.Option(
        "--prediction-column", "-p", help="The model's predictions.")],
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", "-t", help="Tag column: boolean (one tag) or any other (one tag per "
                             "value). Repeat for several.")] = None,
    tag_file: Annotated[Path | None, typer.Option(
        help="Tags per example id: JSON/YAML {id: [tags]} or CSV id,tag.")] = None,
    id_column: Annotated[str | None, typer.Option(
        help="Example ids the tag file refers to (default: the row number).")] = None,
    baseline_column: Annotated[str | None, typer.Option(
        help="Another system's predictions (e.g. the old version) as the baseline.")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="A baseline stored for --model (e.g. 'human' from 'rampup labels').")] = None,
    model: Annotated[str | None, typer.Option(
        help="MODEL or MODEL@VERSION whose stored --baseline to use.")] = None,
    discover: Annotated[bool, typer.Option(
        "--discover", help="Also find slices that are significantly worse, as tags.")] = False,
    feature: Annotated[list[str] | None, typer.Option(
        help="Feature columns for --discover (default: all other columns).")] = None,
    tolerance: Annotated[float | None, typer.Option(
        help="Regression: an error is an absolute error above this.")] = None,
    task: Annotated[str | None, typer.Option(
        help="Score as a task: transcription (error = WER), ranking (1 - AP@k) or "
             "detection (objects missed at IoU 0.5).")] = None,
    k: Annotated[int, typer.Option(help="Cut-off of the ranking metrics.")] = 10,
    fmt: FormatOpt = None, output: OutputOpt = None,
) -> None:
    """Tag-based error analysis: which tags hold the errors, and what to work on next.

    Per tag: share of data, share of errors, error rate, the baseline's error rate, the
    gap, and the potential improvement (gap x share of data), with a suggested action.
    """
    import numpy as np
    import pandas as pd

    from rampup.analysis.baselines import load_baseline
    from rampup.analysis.data import load_dataset
    from rampup.analysis.discovery import add_discovery_section, discover_slices
    from rampup.analysis.error_analysis import (
        analyse_errors,
        error_report,
        errors_of,
        read_tag_file,
        tags_from_columns,
        tags_from_mapping,
    )
    from rampup.analysis.evaluate import parse_target

    ds = load_dataset(data, label_column)
    frame = ds.frame
    pred = _column(frame, prediction_column, "prediction column")
    weights = None
    fam = None
    if task is not None:
        from rampup.analysis.task_eval import row_errors
        from rampup.tasks.family import family

        fam = family(task, k=k)
        preds = pred.astype(object).where(pred.notna(), "").tolist()
        errors, weights = row_errors(fam, ds.labels.tolist(), preds)
    else:
        errors = errors_of(ds.labels.to_numpy(), pred.to_numpy(), tolerance=tolerance)
    tagged = tags_from_columns(frame, tags or [])
    if tag_file is not None:
        ids = (_column(frame, id_column, "id column") if id_column is not None
               else pd.Series(np.arange(len(frame))))
        tagged.update(tags_from_mapping(ids.to_numpy(), read_tag_file(tag_file)))
    meta: dict[str, Any] = {"data": ds.name, "predictions": prediction_column}
    d = None
    if discover:
        used = {label_column, prediction_column, baseline_column, id_column, *(tags or [])}
        features = feature or [c for c in frame.columns if c not in used]
        d = discover_slices(frame, errors if weights is None else errors > 0,
                            features=features)
        tagged.update(d.tags())
    kwargs: dict[str, Any] = {}
    if baseline_column is not None:
        base = _column(frame, baseline_column, "baseline column")
        if fam is not None:  # e.g. human transcripts: human-level WER per tag
            from rampup.analysis.task_eval import row_errors

            b_preds = base.astype(object).where(base.notna(), "").tolist()
            b_err = row_errors(fam, ds.labels.tolist(), b_preds)[0]
        else:
            b_err = errors_of(ds.labels.to_numpy(), base.to_numpy(), tolerance=tolerance)
        kwargs = {"baseline_errors": b_err, "baseline_name": baseline_column}
    elif baseline is not None:
        if model is None:
            raise ValidationError("--baseline needs --model (whose baseline it is)",
                                  fix="add --model MODEL")
        name, version = parse_target(model)
        b = load_baseline(state(ctx).store(), name, baseline, version)
        kwargs = {"baseline_rates": b.error_rates, "baseline_name": b.name}
        if b.kind == "human":  # humans who often disagree with the reference: noisy labels
            kwargs["agreement"] = {t: 1 - r for t, r in b.error_rates.items()}
    if fam is not None:
        meta["error measure"] = fam.error_metric
    report = error_report(analyse_errors(errors, tagged, weights=weights, **kwargs), meta=meta)
    if d is not None:
        add_discovery_section(report, d)
    _emit(report, fmt, output)


# -- rampup audit -----------------------------------------------------------------------------

@handle_errors
def audit_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="MODEL@VERSION to audit.")],
    spec: Annotated[Path, typer.Option("--spec", help="The audit file (YAML).")],
    data: DataOpt, label_column: LabelOpt,
    prediction_column: Annotated[str | None, typer.Option(
        "--prediction-column", "-p",
        help="Read predictions from this column instead of running the version.")] = None,
    attach: Annotated[bool, typer.Option(
        "--attach", help="Attach the audit to the model: deployments of a version whose "
                         "latest result of it failed are refused unless forced.")] = False,
    store_result: Annotated[bool, typer.Option(
        "--store/--no-store", help="Keep the result with the version.")] = True,
    fmt: FormatOpt = None, output: OutputOpt = None,
) -> None:
    """Run an audit (overall and per-slice minimums, fairness gaps, must-get-right sets).

    Exits with code 1 when a check fails, so CI can stop on it. An audit file (YAML):

    {name: release, min_support: 30, checks: [{type: overall, metric: accuracy, min: 0.9},
    {type: slice, metric: recall, by: region, min: 0.8}, {type: slice, metric: mae,
    where: "age >= 65", max: 3}, {type: max_gap, metric: selection_rate, attribute: gender,
    max_gap: 0.05}, {type: must_get_right, where: "kind == 'navigational'"},
    {type: must_get_right, ids: [17, 42], min_accuracy: 1.0}]}
    """
    from rampup.analysis.audit import (
        attach_audit,
        audit_report,
        load_audit_spec,
        run_audit,
        save_audit_result,
    )
    from rampup.analysis.data import (
        align_labels,
        column_predictions,
        load_dataset,
        model_predictions,
    )
    from rampup.analysis.evaluate import resolve_version
    from rampup.registry.registry import Registry

    audit = load_audit_spec(spec)
    st = state(ctx)
    registry = Registry.from_settings(st.settings, st.store())
    record = resolve_version(registry, target)
    label = f"{record.model}@{record.version}"
    ds = load_dataset(data, label_column)
    task = audit.task or record.output.get("task")
    if task is not None and audit.task is None:
        audit = audit.model_copy(update={"task": task})
    if prediction_column is not None:
        preds = column_predictions(ds, prediction_column, task=task)
    else:
        with console.status(f"predicting {len(ds.frame):,} rows with {label}"):
            preds = model_predictions(registry.load(record), ds, label)
    labels = align_labels(ds.labels, preds.classes)
    result = run_audit(audit, ds.frame, labels.to_numpy(), preds.values, scores=preds.scores)
    meta: dict[str, Any] = {"version": label, "data": ds.name, "spec": str(spec)}
    if store_result:
        meta["stored as evaluation"] = save_audit_result(st.store(), record.model,
                                                         record.version, result)
    if attach:
        attach_audit(st.store(), record.model, audit)
        meta["attached to"] = record.model
    _emit(audit_report(result, meta=meta), fmt, output)
    if not result.passed:
        raise typer.Exit(1)


# -- rampup labels ----------------------------------------------------------------------------

@handle_errors
def labels_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Ratings, one row per item and annotator.")],
    item_column: Annotated[str, typer.Option(help="The item (example) id.")] = "item",
    annotator_column: Annotated[str, typer.Option(help="Who labelled it.")] = "annotator",
    label_column: Annotated[str, typer.Option(help="The label given.")] = "label",
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", "-t", help="Tag columns (human-level performance per tag).")] = None,
    reference_column: Annotated[str | None, typer.Option(
        help="Adjudicated label per item (default: majority of the other annotators).")] = None,
    uncertain_as_missing: Annotated[bool, typer.Option(
        help="Treat 'uncertain'/'unintelligible' labels as not rated.")] = False,
    top: Annotated[int, typer.Option(min=0, help="Disputed items to list.")] = 10,
    baseline_for: Annotated[str | None, typer.Option(
        help="Store human-level performance as a baseline of this MODEL "
             "(or MODEL@VERSION).")] = None,
    baseline_name: Annotated[str, typer.Option(help="Name of that baseline.")] = "human",
    fmt: FormatOpt = None, output: OutputOpt = None,
) -> None:
    """Label consistency: agreement, kappas, alpha, disputed items, human-level performance."""
    from rampup.analysis.baselines import human_baseline, save_baseline
    from rampup.analysis.error_analysis import tags_from_columns
    from rampup.analysis.evaluate import parse_target
    from rampup.analysis.labels import Ratings, label_report, labels_document
    from rampup.registry.profile import read_table

    frame = read_table(file)
    cols = {c: _column(frame, c, what) for c, what in (
        (item_column, "item column"), (annotator_column, "annotator column"),
        (label_column, "label column"))}
    missing = ("uncertain", "unintelligible") if uncertain_as_missing else ()
    r = Ratings.from_long(cols[item_column].to_numpy(), cols[annotator_column].to_numpy(),
                          cols[label_column].to_numpy(), missing=missing)
    tag_masks = tags_from_columns(frame, tags or [])
    reference = None
    if reference_column is not None:
        ref = _column(frame, reference_column, "reference column")
        reference = dict(zip(frame[item_column][ref.notna()], ref.dropna(), strict=True))
    report = label_report(r, reference=reference, tags=tag_masks, top=top)
    meta: dict[str, Any] = {"data": file.name}
    if baseline_for is not None:
        model, version = parse_target(baseline_for)
        b = human_baseline(baseline_name, r, reference=reference, tags=tag_masks)
        save_baseline(state(ctx).store(), model, b, **({"version": version} if version else {}))
        meta["baseline stored"] = f"{baseline_name!r} for {baseline_for}"
    _emit(labels_document(report, meta=meta), fmt, output)


# -- rampup split -----------------------------------------------------------------------------

@handle_errors
def split_cmd(
    file: Annotated[Path, typer.Argument(help="The data to split (CSV/Parquet).")],
    label_column: LabelOpt,
    output_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder for the splits.")],
    slices: Annotated[list[str] | None, typer.Option(
        "--slice", "-s", help="Column to stratify on with the label. Repeat for several.")] = None,
    group_column: Annotated[str | None, typer.Option(
        help="Rows of one group (e.g. a user) stay in one split.")] = None,
    ratios: Annotated[str, typer.Option(help="Shares: train,dev,test (or train,test).")] = (
        "60,20,20"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same split).")] = 0,
) -> None:
    """Split into train/dev/test, stratified on the label and slices, optionally by group."""
    from rampup.analysis.splits import (
        parse_ratios,
        split_document,
        split_report,
        stratified_split,
    )
    from rampup.registry.profile import read_table

    frame = read_table(file)
    label = _column(frame, label_column, "label column")
    strata = {c: _column(frame, c, "slice column").to_numpy() for c in slices or []}
    groups = (_column(frame, group_column, "group column").to_numpy()
              if group_column is not None else None)
    s = stratified_split(label.to_numpy(), strata=strata, groups=groups,
                         ratios=parse_ratios(ratios),
                         seed=seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    suffix = file.suffix.lower() if file.suffix.lower() in (".csv", ".parquet") else ".csv"
    written = []
    for name in s.names:
        part = frame[s.mask(name)]
        path = output_dir / f"{name}{suffix}"
        if suffix == ".parquet":
            part.to_parquet(path, index=False)
        else:
            part.to_csv(path, index=False)
        written.append(path)
    rep = split_report(s, {label_column: label.to_numpy(), **strata}, groups=groups)
    (output_dir / "split_report.json").write_text(json.dumps(rep.to_dict(), indent=2))
    _show(split_document(rep, meta={"data": file.name, "seed": seed}))
    console.print(f"[green]wrote[/] {', '.join(str(p) for p in written)} and "
                  f"{output_dir / 'split_report.json'}", highlight=False)
