"""``rampup retrain MODEL``, ``rampup retrain status|list|show|approve``, ``rampup replay``."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from rampup.cli._context import console, handle_errors, state
from rampup.errors import ConfigError

if TYPE_CHECKING:
    from rampup.retrain.service import Retrainer


class _RunByDefault(TyperGroup):
    """``rampup retrain MODEL`` means ``rampup retrain run MODEL``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


retrain_app = typer.Typer(cls=_RunByDefault, no_args_is_help=True, help=(
    "Retrain a model (rampup retrain MODEL) and follow its runs: status, list, show, "
    "approve."))


def register(app: typer.Typer) -> None:
    app.add_typer(retrain_app, name="retrain")
    app.command("replay")(replay_cmd)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _retrainer(ctx: typer.Context) -> Retrainer:
    # start-up time: pandas, SciPy (the registry, the audit gate)
    from rampup.registry.registry import Registry
    from rampup.retrain.service import Retrainer
    from rampup.rollout.gates import deploy_gate

    st = state(ctx)
    return Retrainer(Registry.from_settings(st.settings, st.store()), st.project_file,
                     st.settings.project_dir, gate=deploy_gate)


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


STYLE = {"rolled_out": "green", "awaiting_approval": "yellow", "rejected": "red",
         "failed": "red", "running": "cyan", "queued": "cyan", "superseded": "yellow",
         "expired": "dim"}
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output.")]


@retrain_app.command("run")
@handle_errors
def run(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name (with a retrain: section).")],
    since: Annotated[str | None, typer.Option(
        help="Log window start: 7d, an ISO date or epoch seconds (default: retrain.since).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept with the run).")
                      ] = "",
    force: Annotated[bool, typer.Option(
        help="Skip cooldown, daily limit and minimum of new labels. A stale run (queued "
             "and never started, or left by a process that is gone) is cleared first.")
    ] = False,
    queue: Annotated[bool, typer.Option(
        help="Only queue the run; the server's retraining loop executes it.")] = False,
    engine: Annotated[Literal["local", "ray"] | None, typer.Option(
        "--engine", help="local: a subprocess here; ray: a task on a Ray cluster (needs "
                         "'rampup[ray]'). Default: the retrain section's engine.")] = None,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="With --engine ray: the cluster (default: retrain.ray.address, "
                              "RAY_ADDRESS, else a local Ray started for the run).")] = None,
) -> None:
    """Start a retraining run now and follow it (or --queue it for the server)."""
    from rampup.durations import parse_time

    if ray_address is not None and engine != "ray":
        raise ConfigError("--ray-address goes with --engine ray",
                          fix="add --engine ray, or drop --ray-address")
    asked = {k: v for k, v in (("engine", engine), ("ray_address", ray_address)) if v}
    r = _retrainer(ctx)
    start = parse_time(since, "since") if since else None
    r.clear_stale(model, actor=_actor(), notify=lambda _, text: console.print(
        f"[yellow]cleared[/] {escape(text)}", highlight=False))
    row = r.request(model, trigger="manual", actor=_actor(), reason=reason, since=start,
                    force=force, claim=not queue, details=asked or None)
    if queue:
        console.print(f"[green]retraining run #{row['id']} queued[/]; follow it with: "
                      f"rampup retrain show {row['id']}")
        return
    with console.status(f"retraining {model} (run #{row['id']})…") as status:
        def notify(stage: str, message: str) -> None:
            mark = "[red]✗[/]" if stage == "failed" else "[green]✓[/]"
            console.print(f"{mark} {escape(message)}", highlight=False)
            status.update(f"retraining {model} (run #{row['id']}): {stage}…")

        done = r.execute(row["id"], notify=notify)
    _print_run(done)
    if done["state"] in ("failed", "rejected"):
        raise typer.Exit(1)


@retrain_app.command("status")
@handle_errors
def status(ctx: typer.Context,
           model: Annotated[str | None, typer.Argument(help="Model (default: all).")] = None,
           as_json: JsonOpt = False) -> None:
    """Per model: may a run start now (or which guard refuses), and the latest run."""
    r = _retrainer(ctx)
    models = [model] if model else r.models()
    rows = [{**r.guard_state(m), "latest": next(iter(r.runs(m, 1)), None)} for m in models]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        console.print("no model has a retrain: section in rampup.yaml")
        return
    table = Table("model", "new labels", "next run", "latest run")
    for row in rows:
        latest = row["latest"]
        table.add_row(row["model"], str(row["new_labels"]),
                      "[green]allowed[/]" if row["allowed"] else
                      f"[yellow]{row['guard']}[/]: {escape(row['message'] or '')}",
                      "-" if latest is None else
                      f"#{latest['id']} {latest['state']} ({_when(latest['created_at'])})")
    console.print(table)


@retrain_app.command("list")
@handle_errors
def list_runs(ctx: typer.Context,
              model: Annotated[str | None, typer.Argument(help="Model (default: all).")] = None,
              limit: Annotated[int, typer.Option(min=1)] = 20, as_json: JsonOpt = False) -> None:
    """Retraining runs, newest first."""
    runs = _retrainer(ctx).runs(model, limit)
    if as_json:
        typer.echo(json.dumps(runs, indent=2, default=str))
        return
    table = Table("run", "model", "state", "trigger", "started", "candidate", "verdict",
                  "why")
    for row in runs:
        st = row["state"]
        table.add_row(f"#{row['id']}", row["model"], f"[{STYLE.get(st, 'white')}]{st}[/]",
                      row["trigger"], _when(row["created_at"]), row["candidate"] or "-",
                      row["verdict"] or "-", escape(row["reason"][:60]))
    console.print(table)


@retrain_app.command("show")
@handle_errors
def show(ctx: typer.Context, run_id: Annotated[int, typer.Argument(help="Run number.")],
         as_json: JsonOpt = False,
         log: Annotated[bool, typer.Option(help="Print the training log's tail.")] = False
         ) -> None:
    """One run: why it started, its dataset, evaluation, replay, verdict and rollout."""
    row = _retrainer(ctx).get(run_id)
    if as_json:
        typer.echo(json.dumps(row, indent=2, default=str))
        return
    _print_run(row)
    if log:
        console.print("[bold]training log (tail)[/]")
        console.print(escape(row["log_tail"] or "(empty)"), highlight=False)


@retrain_app.command("approve")
@handle_errors
def approve(ctx: typer.Context, run_id: Annotated[int, typer.Argument(help="Run number.")]
            ) -> None:
    """Start the rollout of a run's candidate that waits for approval."""
    done = _retrainer(ctx).approve(run_id, actor=_actor())
    _print_run(done)


def _print_run(row: dict[str, Any]) -> None:
    st = row["state"]
    console.print(f"[bold]run #{row['id']}[/] of {row['model']}: "
                  f"[{STYLE.get(st, 'white')}]{st.replace('_', ' ')}[/]")
    details = {k: v for k, v in (row["details"] or {}).items() if v is not None}
    console.print(f"  why: {escape(row['reason'])} ({row['trigger']}, by {row['actor']})"
                  + (f" {escape(json.dumps(details, default=str))}" if details else ""),
                  highlight=False)
    if row["dataset"]:
        ds = row["dataset"]
        rows = ds["rows"]
        console.print(f"  dataset: {rows['train']} training rows ({rows['reference']} "
                      f"reference + {rows['log_labelled']} from the log), {rows['holdout']} "
                      f"held out; sha256 {ds['sha256'][:16]}…")
    if row["candidate"]:
        console.print(f"  candidate: {row['candidate']} vs champion {row['champion']}")
    for reason in row["reasons"] or []:
        console.print(f"  verdict: {escape(reason)}", highlight=False)
    rep = row["replay"]
    if rep and rep.get("agreement") is not None:
        console.print(f"  replay: {rep['compared']} requests, agreement "
                      f"{rep['agreement']:.1%} with production")
    if row["rollout_id"]:
        console.print(f"  rollout: #{row['rollout_id']} (rampup rollout status "
                      f"{row['model']})")
    if row["error"]:
        console.print(f"  [red]error:[/] {escape(row['error'])}", highlight=False)
    if st == "awaiting_approval":
        console.print(f"  approve with: rampup retrain approve {row['id']}")


@handle_errors
def replay_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="The version to replay traffic through.")],
    last: Annotated[int, typer.Option(min=1, help="How many logged requests.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Offline shadow: the last N logged requests through VERSION; agreement with what
    production answered and accuracy where labels exist."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rampup.registry.registry import Registry
    from rampup.retrain.replay import replay

    st = state(ctx)
    registry = Registry.from_settings(st.settings, st.store())
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=as_json) as bar:
        task = bar.add_task("replay", total=None)
        report = replay(registry, model, version, last=last,
                        progress=lambda done, total: bar.update(task, completed=done,
                                                                total=total))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    agreement = "n/a" if report.agreement is None else f"{report.agreement:.1%}"
    console.print(f"[bold]{model}@{version}[/] on the last {report.requests} requests "
                  f"({report.seconds:.2f} s): agreement with production {agreement} "
                  f"over {report.compared}; {report.invalid} refused by its schema")
    if report.labelled:
        console.print(f"  accuracy on {report.labelled} labelled: candidate "
                      f"{report.candidate_accuracy:.3f}, production "
                      f"{report.production_accuracy:.3f}")
    versions = ", ".join(f"{v} ({n})" for v, n in report.production_versions.items())
    console.print(f"  production answers came from: {versions}")
