"""``rampup deploy``, ``rampup rollout ...``, ``rampup promote``, ``rampup rollback``."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from rampup.cli._context import console, handle_errors, state

if TYPE_CHECKING:
    from rampup.rollout.machine import Rollout
    from rampup.rollout.service import Rollouts, RolloutStatus

Strategy = Literal["shadow", "canary", "bluegreen"]  # rampup.rollout.plan.Strategy

rollout_app = typer.Typer(help="Watch and steer the active rollout of a model.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.add_typer(rollout_app, name="rollout")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _service(ctx: typer.Context) -> Rollouts:
    # start-up time: the audit gate loads pandas and SciPy
    from rampup.rollout.gates import deploy_gate
    from rampup.rollout.service import Rollouts

    return Rollouts(state(ctx).store(), gate=deploy_gate)


Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the history).")]


@handle_errors
def deploy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version to roll out.")],
    strategy: Annotated[Strategy | None, typer.Option(
        help="shadow | canary | bluegreen (default: the plan's, else canary).")] = None,
    plan: Annotated[Path | None, typer.Option(help="Plan YAML: steps, checks, on_failure.")
                    ] = None,
    reason: Reason = "",
    force: Annotated[bool, typer.Option(help="Deploy even if the model's audit fails.")] = False,
) -> None:
    """Start a rollout: the running server's controller moves it through the plan."""
    from rampup.rollout.plan import load_plan

    p = load_plan(plan) if plan else None
    chosen: Strategy = strategy or (p.strategy if p else "canary")
    r = _service(ctx).deploy(model, version, strategy=chosen, plan=p, actor=_actor(),
                             reason=reason, force=force)
    if r is None:
        console.print(f"[green]deployed[/] {model}@{version} (first deployment: all traffic)")
        return
    console.print(f"[green]rollout #{r.id} started[/]: {model} {r.baseline} → {r.candidate} "
                  f"({r.plan.strategy}); now at step 1: {r.plan.steps[0].describe()}")
    console.print(f"watch it with: rampup rollout status {model}")


@rollout_app.command("status")
@handle_errors
def status(ctx: typer.Context, model: str,
           as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False
           ) -> None:
    """The latest rollout, its steps, the live traffic policy and the last check results."""
    st = _service(ctx).status(model)
    if as_json:
        typer.echo(json.dumps(st.to_dict(), indent=2, default=str))
        return
    _print_status(model, st)


def _print_status(model: str, st: RolloutStatus) -> None:
    if st.policy is not None:
        routes = ", ".join(f"{v} {w:g}%" for v, w in st.policy.routes.items())
        extra = ""
        if st.policy.mirrors:
            extra += "; shadow " + ", ".join(f"{v} {w:g}%" for v, w in st.policy.mirrors.items())
        if st.policy.standby:
            extra += f"; standby {st.policy.standby}"
        console.print(f"[bold]{model}[/] traffic (deployment #{st.deployment_id}): {routes}{extra}")
    for note in st.superseded:
        console.print(f"[dim]superseded ({_ago(note['ts'])}, {escape(note['actor'])}): "
                      f"{escape(note['message'])}[/]", highlight=False)
    r = st.rollout
    if r is None:
        console.print("no rollout yet")
        return
    _print_rollout(r)
    if st.checks:
        latest = st.checks[0]
        table = Table(title=f"last judgement ({_ago(latest['ts'])}): {latest['verdict']} → "
                            f"{latest['decision']}: {latest['reason']}")
        for col in ("check", "value", "baseline", "threshold", "p", "n", "verdict", "reason"):
            table.add_column(col)
        for res in latest["results"]:
            table.add_row(str(res.get("check_text", res.get("check", ""))), _num(res.get("value")),
                          _num(res.get("baseline_value")), _num(res.get("threshold")),
                          _num(res.get("p_value")), str(res.get("n", "")),
                          _verdict(str(res.get("verdict", ""))), str(res.get("reason", "")))
        console.print(table)


def _print_rollout(r: Rollout) -> None:
    colour = {"promoted": "green", "rolled_back": "red", "aborted": "red",
              "paused": "yellow", "superseded": "yellow"}.get(r.state, "cyan")
    console.print(f"rollout #{r.id}: {r.baseline} → {r.candidate} ({r.plan.strategy}) "
                  f"[{colour}]{r.state}[/] — {r.reason}")
    for i, s in enumerate(r.plan.steps):
        mark = "✓" if i < r.step or r.state == "promoted" else ("▶" if i == r.step else "·")
        since = f" (since {_ago(r.step_started_at)})" if i == r.step and r.active else ""
        console.print(f"  {mark} {i + 1}. {s.describe()}  hold ≥{s.min_duration_s:g} s, "
                      f"≥{s.min_requests} requests{since}")


def _ago(ts: float) -> str:
    return f"{max(0.0, time.time() - ts):.0f} s ago"


def _num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _verdict(v: str) -> str:
    return {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "wait": "[yellow]wait[/]"}.get(v, v)


def _action(name: str, doc: str) -> None:
    @rollout_app.command(name, help=doc)
    @handle_errors
    def command(ctx: typer.Context, model: str, reason: Reason = "") -> None:
        service = _service(ctx)
        r: Rollout = getattr(service, name)(model, actor=_actor(), reason=reason)
        console.print(f"rollout #{r.id} of {model}: [bold]{r.state}[/] — {r.reason}")


_action("pause", "Freeze the rollout at its current traffic.")
_action("resume", "Resume a paused rollout at its current step.")
_action("abort", "Stop the rollout and send all traffic back to the baseline.")
_action("approve", "Approve a manual-approval step.")


@handle_errors
def promote(ctx: typer.Context, model: str, reason: Reason = "") -> None:
    """Give the candidate all traffic now (the old version stays warm for instant rollback)."""
    r = _service(ctx).promote(model, actor=_actor(), reason=reason)
    console.print(f"[green]promoted[/] {model}@{r.candidate}; {r.baseline} kept warm for "
                  f"{r.plan.standby_keep_s:g} s")


@handle_errors
def rollback(ctx: typer.Context, model: str, reason: Reason = "") -> None:
    """Back to the previous policy at once (a running server follows within a second)."""
    policy = _service(ctx).rollback(model, actor=_actor(), reason=reason)
    routes = ", ".join(f"{v} {w:g}%" for v, w in policy.routes.items())
    console.print(f"[yellow]rolled back[/] {model}: {routes}")
