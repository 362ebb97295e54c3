"""``rampup drift``: data and concept drift of a live model, or between two data files."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from rampup.cli._context import TIME_HELP, console, err_console, handle_errors, state
from rampup.errors import ValidationError

if TYPE_CHECKING:
    from rampup.drift.check import DriftCheck
    from rampup.drift.report import DriftConfig

# rampup.drift (SciPy, pandas) is imported inside the functions: start-up time.
DETECTORS = ("adwin", "page_hinkley", "ddm")  # the keys of rampup.drift.detectors.DETECTORS
#: how the report names each multivariate model
MULTIVARIATE_NAMES = {"qda": "quadratic discriminant", "hgb": "domain classifier (hgb)",
                      "logistic": "domain classifier (logistic)"}

SPARK = "▁▂▃▄▅▆▇█"
SHORT = {"wasserstein/std": "W/sd", "wasserstein/iqr": "W/iqr", "js_distance": "JS",
         "abs_change": "abs", "unseen_share": "share"}


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def _config(alpha: float, correction: str, min_effect: list[str], seed: int) -> DriftConfig:
    from rampup.drift.report import DEFAULT_MIN_EFFECT, DriftConfig

    kinds: dict[str, float] = {}
    features: dict[str, float] = {}
    for item in min_effect:
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or math.isnan(number) or number < 0:
            raise ValidationError(f"--min-effect {item!r} is not KEY=NUMBER",
                                  fix="e.g. --min-effect numeric=0.2 --min-effect income=0.05 "
                                      f"(a kind: {', '.join(DEFAULT_MIN_EFFECT)}, or a feature)")
        (kinds if key in DEFAULT_MIN_EFFECT else features)[key] = number
    return DriftConfig(alpha=alpha, correction=correction,
                       min_effect={**DEFAULT_MIN_EFFECT, **kinds},
                       feature_min_effect=features, seed=seed)


def _range(window: str | None, since: str | None, until: str | None, now: float
           ) -> tuple[float, float]:
    from rampup.durations import parse_duration, parse_time

    if window is not None and since is not None:
        raise ValidationError("give --window or --since, not both",
                              fix="--window 1h means the last hour; --since 2024-05-01 a start")
    end = parse_time(until, "until", now) if until is not None else now
    if since is not None:
        return parse_time(since, "since", now), end
    return end - parse_duration(window or "1h", "window", positive=True), end


def _baseline(text: str | None, now: float) -> tuple[float, float] | None:
    from rampup.durations import parse_time

    if text is None:
        return None
    a, sep, b = text.partition("..")
    if not sep:
        raise ValidationError(f"--baseline {text!r} is not SINCE..UNTIL",
                              fix="e.g. --baseline 8d..7d (a day of traffic a week ago)")
    return parse_time(a, "baseline", now), parse_time(b, "baseline", now)


def _spark(values: list[float]) -> str:
    ok = [v for v in values if math.isfinite(v)]
    top = max(ok) if ok else 0.0
    return "".join(" " if not math.isfinite(v) else
                   SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] if top > 0
                   else SPARK[0] for v in values)


def _print(check: DriftCheck) -> None:
    from rampup.drift.html import fmt, fmt_time
    from rampup.drift.report import DRIFT, SMALL
    from rampup.drift.trend import pattern

    rep = check.report
    meta = rep.meta
    what = (f"{meta.get('model')}@{meta.get('version')}, {fmt_time(float(meta['since']))} to "
            f"{fmt_time(float(meta['until']))} (from the {meta.get('source')})"
            if meta.get("model") else f"{meta.get('current')} against {meta.get('reference')}")
    table = Table(title=f"Drift: {what}", title_justify="left", box=None, header_style="bold")
    for col in ("feature", "test", "statistic", "p", "q", "effect", "verdict"):
        table.add_column(col, justify="right" if col in ("statistic", "p", "q", "effect")
                         else "left")
    for r in rep.results:
        style = "bold red" if r.verdict == DRIFT else "yellow" if r.verdict == SMALL else ""
        note = f" ({'; '.join(r.notes)})" if r.notes and not r.tested else ""
        name = r.feature if r.kind in ("numeric", "categorical", "binary", "text") \
            else f"{r.feature} ({r.kind})"
        table.add_row(name, r.test, fmt(r.statistic), fmt(r.p_value, 4), fmt(r.q_value, 4),
                      f"{fmt(r.effect)} {SHORT.get(r.effect_name, r.effect_name)}",
                      f"[{style}]{r.verdict}[/]{note}" if style else r.verdict + note)
    console.print(table)
    for r in rep.results:
        if r.tested and r.notes:
            console.print(f"  [dim]{r.feature}: {'; '.join(r.notes)}[/]", highlight=False)
    drifted = rep.drifted_features
    verdict = (f"[bold red]drift[/] in {len(drifted)} of {len(rep.features)} features: "
               f"{', '.join(drifted)}" if drifted else
               f"[green]no drift[/] in {len(rep.features)} features")
    console.print(f"{verdict} ({rep.correction} correction, alpha {rep.alpha})",
                  highlight=False)
    mv = rep.multivariate
    if mv is not None and not math.isnan(mv.auc):
        top = ", ".join(f"{name} {fmt(v)}" for name, v in mv.top_features)
        console.print(f"multivariate: {MULTIVARIATE_NAMES.get(mv.model, mv.model)} AUC "
                      f"{fmt(mv.auc)}, p {fmt(mv.p_value, 4)}"
                      f", q {fmt(mv.q_value, 4)}"
                      f" -> {'[bold red]drift[/]' if mv.drifted else 'no drift'}"
                      + (f" (separating: {top})" if top else ""), highlight=False)
    emb = check.embedding
    if emb is not None:
        console.print(f"embedding ({emb.field}, {emb.result.n_cur} of {emb.rows} rows vs "
                      f"{emb.result.n_ref} reference): MMD {fmt(emb.effect)}, p "
                      f"{fmt(emb.p_value, 4)} -> "
                      f"{'[bold red]drift[/]' if emb.drifted else 'no drift'}",
                      highlight=False)
    if check.trend is not None:
        t = Table(title=f"Trend over {len(check.trend.windows)} windows", title_justify="left",
                  box=None, header_style="bold")
        for col in ("feature", "effect per window", "pattern"):
            t.add_column(col)
        for f in check.trend.features:
            eff, dr = check.trend.effects(f), check.trend.drifted(f)
            shape, since = pattern(eff, dr)
            t.add_row(f, _spark(eff), shape if since is None else f"{shape} from window "
                                                                  f"{since + 1}")
        console.print(t)
    if check.performance:
        ref = check.reference
        t = Table(title=f"Performance (reference accuracy {fmt(ref.accuracy if ref else None)}"
                        f", {ref.source if ref else 'none'})", title_justify="left", box=None,
                  header_style="bold")
        for col in ("window", "labelled", "accuracy", "95% CI", "expected", "verdict"):
            t.add_column(col)
        for i, w in enumerate(check.performance):
            t.add_row(fmt_time(w.start) if w.start > 1e8 else f"#{i + 1}", str(w.labelled),
                      fmt(w.accuracy),
                      f"{fmt(w.lo)} to {fmt(w.hi)}", fmt(w.expected),
                      f"[bold red]{w.verdict}[/]" if w.verdict == "degraded" else w.verdict)
        console.print(t)
    if check.estimate:
        t = Table(title="Label-free estimate (calibrated on the reference; no current labels)",
                  title_justify="left", box=None, header_style="bold")
        for col in ("metric", "estimate", "95% band", "of which calibration (sd)"):
            t.add_column(col)
        for e in check.estimate.values():
            t.add_row(e.metric, fmt(e.value), f"{fmt(e.lo)} to {fmt(e.hi)}",
                      fmt(e.calibration_sd, 4))
        console.print(t)
    for a in check.alarms:
        when = f" at {fmt_time(a.ts)}" if a.ts is not None else f" at #{a.index}"
        console.print(f"[yellow]alarm[/]: {a.stream} changed ({a.detector}){when}",
                      highlight=False)
    for note in check.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


def _emit(check: DriftCheck, as_json: bool, html: Path | None) -> None:
    if html is not None:
        from rampup.drift.html import render_html


        html.write_text(render_html(check), encoding="utf-8")
        err_console.print(f"HTML report written to {html}", highlight=False)
    if as_json:
        typer.echo(json.dumps(check.to_dict(), allow_nan=False, default=_jsonable))
    else:
        _print(check)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return str(v)


@handle_errors
def drift(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(
        help="The model to check (stored mode). Leave out with --reference/--current.")] = None,
    version: Annotated[str | None, typer.Option(
        help="The version (default: the live one).")] = None,
    window: Annotated[str | None, typer.Option(
        help="How far back from --until to look (default 1h): 30m, 6h, 7d ...")] = None,
    since: Annotated[str | None, typer.Option(help=f"Start of the range: {TIME_HELP}.")] = None,
    until: Annotated[str | None, typer.Option(help="End of the range (default: now).")] = None,
    windows: Annotated[int, typer.Option(
        min=1, help="Split the range into this many windows and show the trend.")] = 1,
    reference: Annotated[str | None, typer.Option(
        help="Raw mode: the reference data (CSV/Parquet; a path or a URL such as "
             "s3://bucket/ref.parquet).")] = None,
    current: Annotated[str | None, typer.Option(
        help="Raw mode: the current data (CSV/Parquet; a path or a URL).")] = None,
    label_column: Annotated[str | None, typer.Option(
        "--label-column", "-l", help="Raw mode: the label column (tested as label drift).")
    ] = None,
    prediction_column: Annotated[str | None, typer.Option(
        help="Raw mode: the model's prediction column (output drift; with --label-column "
             "also accuracy per window).")] = None,
    time_column: Annotated[str | None, typer.Option(
        help="Raw mode: order the current rows by this column for the trend.")] = None,
    probability_column: Annotated[str | None, typer.Option(
        help="Raw mode: the model's probability of the positive class (label 1). With "
             "--label-column (labels in the reference only): the label-free estimate of "
             "accuracy, F1 and ROC AUC on the current rows.")] = None,
    threshold: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="Raw mode: the model's decision threshold on --probability-column.")] = 0.5,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    correction: Annotated[str, typer.Option(
        help="Across features: bh (Benjamini-Hochberg), bonferroni or none.")] = "bh",
    min_effect: Annotated[list[str] | None, typer.Option(
        help="Practical minimum effect: KIND=X (numeric, categorical, binary, missing, "
             "text) or FEATURE=X. Repeat for several.")] = None,
    source: Annotated[str, typer.Option(
        help="Where windows come from: auto (monitor, else prediction log), monitor, log."
    )] = "auto",
    baseline: Annotated[str | None, typer.Option(
        help="A range of normal traffic whose outputs are the reference outputs, "
             "e.g. 8d..7d.")] = None,
    multivariate: Annotated[bool, typer.Option(
        help="Raw mode: the multivariate test (can the rows of the two files be told "
             "apart?).")] = True,
    multivariate_model: Annotated[str, typer.Option(
        help="Raw mode: the multivariate test's model: qda (a quadratic discriminant in "
             "NumPy: means, spreads, correlations, category mix; fast), hgb (gradient "
             "boosting, scikit-learn: also non-linear dependence; ~1 s more) or "
             "logistic.")] = "qda",
    concept: Annotated[bool, typer.Option(
        help="Stored mode: performance per window and the streaming detectors.")] = True,
    detector: Annotated[str, typer.Option(
        help=f"Error-stream detector: {', '.join(DETECTORS)}.")] = "adwin",
    seed: Annotated[int, typer.Option(help="Seed of the calibration and subsampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    fail_on_drift: Annotated[bool, typer.Option(
        help="Exit with status 1 when the data drifts (for CI and cron jobs).")] = False,
) -> None:
    """Test a window of live traffic (or a data file) for drift against the reference.

    Stored mode, `rampup drift MODEL --window 6h --windows 6`: the version's reference
    profile against the monitor's window profiles (no raw data re-read), the trend, output
    drift, accuracy per window and detector alarms. Raw mode, `rampup drift --reference
    train.parquet --current today.parquet`: exact tests on every row.
    """
    if detector not in DETECTORS:
        raise ValidationError(f"unknown detector {detector!r}",
                              fix=f"use one of {', '.join(DETECTORS)}")
    raw = reference is not None or current is not None
    if raw:
        if reference is None or current is None or model is not None:
            raise ValidationError("raw mode needs both --reference and --current, no MODEL",
                                  fix="rampup drift --reference ref.parquet --current "
                                      "cur.parquet")
        # Raw mode imports only what its tests need: no store, SciPy's stats module and
        # scikit-learn only in a scikit-learn classifier's worker (tests/cli checks this).
        from rampup.cli.drift_raw import DomainWorker, check_raw
        from rampup.drift.multivariate import MODELS

        if multivariate_model not in MODELS:
            raise ValidationError(f"unknown --multivariate-model {multivariate_model!r}",
                                  fix=f"use one of {', '.join(MODELS)}")
        worker = DomainWorker(multivariate_model) \
            if DomainWorker.wanted(multivariate, multivariate_model) else None
        try:
            from rampup.registry.profile import read_table

            config = _config(alpha, correction, min_effect or [], seed)
            with err_console.status("testing drift"):
                check = check_raw(read_table(reference), read_table(current), config=config,
                                  worker=worker, label_column=label_column,
                                  prediction_column=prediction_column,
                                  time_column=time_column, windows=windows,
                                  multivariate=multivariate, detector=detector,
                                  probability_column=probability_column,
                                  threshold=threshold, multivariate_model=multivariate_model,
                                  meta={"reference": str(reference), "current": str(current)})
        finally:
            if worker is not None:
                worker.close()
    else:
        from rampup.drift.check import check_model

        config = _config(alpha, correction, min_effect or [], seed)
        if model is None:
            raise ValidationError("name the model to check, or compare two files",
                                  fix="rampup drift MODEL --window 1h, or rampup drift "
                                      "--reference ref.parquet --current cur.parquet")
        now = time.time()
        start, end = _range(window, since, until, now)
        with err_console.status(f"testing drift of {model}"):
            check = check_model(state(ctx).store(), model, since=start, until=end,
                                version=version, windows=windows, config=config,
                                source=source, baseline=_baseline(baseline, now),
                                concept=concept, detector=detector)
    _emit(check, as_json, html)
    if fail_on_drift and check.report.dataset_drift:
        raise typer.Exit(1)
