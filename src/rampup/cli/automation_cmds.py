"""``rampup automation ...``: the level (with history), metrics, advice, calibration."""

from __future__ import annotations

import getpass
import json
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rampup.cli._context import TIME_HELP, console, handle_errors, state

if TYPE_CHECKING:
    from rampup.automation.service import Automation

LEVELS = ("human_only", "shadow", "ai_assist", "partial", "full")  # rampup.automation.spec

automation_app = typer.Typer(help="Automation level per model: level, metrics, advise, "
                                  "calibrate.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(automation_app, name="automation")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _service(ctx: typer.Context) -> Automation:
    from rampup.automation.service import Automation  # start-up time: pandas, the store

    st = state(ctx)
    return Automation(st.store(), st.project_file)


Model = Annotated[str, typer.Argument(help="Model name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine output.")]
Since = Annotated[str | None, typer.Option(help=TIME_HELP)]


def _since(since: str | None) -> float | None:
    from rampup.durations import parse_time

    return parse_time(since, "since") if since else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@automation_app.command("level")
@handle_errors
def level_cmd(ctx: typer.Context, model: Model,
              level: Annotated[str | None, typer.Argument(
                  help=f"New level: {', '.join(LEVELS)} (omit to show).")] = None,
              reset: Annotated[bool, typer.Option(help="Back to the project file's level.")]
              = False,
              reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "",
              as_json: AsJson = False) -> None:
    """Show or set the level; a change reaches running servers within about a second."""
    svc = _service(ctx)
    if reset:
        out = svc.reset_level(model, actor=_actor(), reason=reason)
    elif level is not None:
        out = svc.set_level(model, level, actor=_actor(), reason=reason, now=time.time())
    else:
        out = svc.level(model)
    if as_json:
        typer.echo(json.dumps({**out, "history": svc.history(model)}, indent=2, default=str))
        return
    console.print(f"{escape(model)}: [bold]{out['level']}[/] (from the {out['source']}"
                  + (f"; project file says {out['project_level']}"
                     if out["source"] == "runtime" else "") + ")", highlight=False)
    for h in svc.history(model, limit=5):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(h["ts"]))
        console.print(f"  {when} {escape(h['actor'])}: {h['from']} → {h['to']}"
                      + (f" ({escape(h['reason'])})" if h.get("reason") else ""),
                      highlight=False)


@automation_app.command("metrics")
@handle_errors
def metrics_cmd(ctx: typer.Context, model: Model, since: Since = "7d",
                as_json: AsJson = False) -> None:
    """Automation rate, queue length, wait times, accuracy automated vs reviewed."""
    out = _service(ctx).metrics(model, since=_since(since),
                                now=time.time())
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    from rampup.automation.report import status_line

    console.print(escape(status_line(out)), highlight=False)
    table = Table(title=f"automation of {model}")
    table.add_column("metric")
    table.add_column("value")
    w, age = out["wait_s"], out["open_age_s"]
    acc = out["accuracy"]
    rows = [("level", out["level"]), ("answered", str(out["answered"])),
            ("automation rate", _pct(out["automation_rate"])),
            ("queue length (disputed)", f"{out['queue_length']} ({out['disputed']})"),
            ("wait p50 / p90 / p99 s", " / ".join(_secs(w[k]) for k in ("p50", "p90", "p99"))),
            ("oldest open item s", _secs(age["max"])),
            ("accuracy of automated (audits)", _acc(acc["automated"])),
            ("model accuracy on reviewed", _acc(acc["model_on_reviewed"])),
            ("items by reason", ", ".join(f"{k} {v}" for k, v in out["by_reason"].items()))]
    for k, v in rows:
        table.add_row(k, escape(v))
    console.print(table)


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def _acc(a: dict[str, object]) -> str:
    v = a["value"]
    if not isinstance(v, float | int):
        return "- (no labels yet)"
    ci = a["ci"]
    lo, hi = ci if isinstance(ci, list) else (None, None)
    return f"{v:.1%} (95% CI {_pct(lo)}-{_pct(hi)}, n={a['n']})"


@automation_app.command("advise")
@handle_errors
def advise_cmd(ctx: typer.Context, model: Model,
               target: Annotated[float, typer.Option(help="Highest acceptable error of "
                                                     "automated decisions.")] = 0.05,
               since: Since = None, as_json: AsJson = False) -> None:
    """The confidence threshold that keeps automated error under --target, and the share
    of predictions it would automate (from reviewed and audited items)."""
    a = _service(ctx).advise(model, target=target,
                             since=_since(since))
    if as_json:
        typer.echo(json.dumps(a.to_dict(), indent=2))
        return
    style = "green" if a.threshold is not None else "yellow"
    console.print(f"[{style}]{escape(a.message)}[/]", highlight=False)
    if a.threshold is not None:
        console.print(f"to apply: set automation.threshold: {a.threshold:.3f} in rampup.yaml "
                      f"and 'rampup automation level {escape(model)} partial'",
                      highlight=False)
    if a.curve:
        table = Table(title="threshold → share automated, error (upper bound)")
        for col in ("threshold", "share", "error", "upper", "n"):
            table.add_column(col)
        for c in a.curve:
            table.add_row(f"{c['threshold']:.3f}", _pct(c["share"]), _pct(c["error"]),
                          _pct(c["error_upper"]), f"{c['n']:.0f}")
        console.print(table)


@automation_app.command("calibrate")
@handle_errors
def calibrate_cmd(ctx: typer.Context, model: Model,
                  version: Annotated[str, typer.Argument(help="The version to calibrate.")],
                  method: Annotated[str, typer.Option(help="isotonic or platt")] = "isotonic",
                  since: Since = None) -> None:
    """Fit a calibration map on the version's labelled predictions (used with
    automation.confidence: calibrated)."""
    cal = _service(ctx).calibrate(model, version, method=method, actor=_actor(),
                                  since=_since(since))
    console.print(f"[green]calibrated[/] {escape(model)}@{escape(version)} with {method} on "
                  f"{cal.n} labelled predictions; servers pick it up within a second",
                  highlight=False)
