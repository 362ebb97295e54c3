"""``rampup alerts ...`` (rules, history, test, suggest, review) and ``rampup export ...``
(Grafana dashboard, Prometheus alerting rules)."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rampup.alerts.kinds import BUILTIN_ACTIONS, KINDS
from rampup.cli._context import CliState, console, handle_errors, state
from rampup.durations import format_duration, parse_duration, parse_time
from rampup.errors import ValidationError

if TYPE_CHECKING:
    from rampup.alerts.service import Alerts
    from rampup.alerts.spec import AlertRuleSpec

alerts_app = typer.Typer(help="Alert rules: list, add, remove, enable, disable, history, "
                              "test, suggest thresholds, review.", no_args_is_help=True)
export_app = typer.Typer(help="Export dashboards and alert rules for Grafana/Prometheus.",
                         no_args_is_help=True)

STATE_STYLE = {"ok": "green", "pending": "yellow", "firing": "bold red", "resolved": "cyan",
               "disabled": "dim"}


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(export_app, name="export")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _service(ctx: typer.Context) -> tuple[Alerts, CliState]:
    from rampup.alerts.service import Alerts  # start-up time: pydantic models, the store

    st = state(ctx)
    alerts = Alerts(st.store(), alerting=st.project_file.alerting, project=st.project_file)
    alerts.sync_project(st.project_file)  # the store reflects rampup.yaml
    return alerts, st


def _since(text: str) -> float:
    return parse_time(text, "--since")


Model = Annotated[str, typer.Argument(help="Model name.")]
Rule = Annotated[str, typer.Argument(help="Rule name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine output.")]


@alerts_app.command("list")
@handle_errors
def list_cmd(ctx: typer.Context,
             model: Annotated[str | None, typer.Argument(help="Model (default: all).")] = None,
             as_json: AsJson = False) -> None:
    """Every rule with its source (project/runtime), state and last value."""
    alerts, _ = _service(ctx)
    rows = alerts.status(model)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print("no alert rules; add some under 'alerts:' in rampup.yaml or with "
                      "'rampup alerts add' (see 'rampup alerts suggest MODEL')")
        return
    table = Table(title="alert rules" if model is None else f"alert rules of {model}")
    for col in ("rule", "state", "condition", "severity", "value", "on firing", "source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        st = r.state.state if r.rule.enabled else "disabled"
        value = "no data" if r.state.no_data else (
            "" if r.state.value is None else f"{r.state.value:.4g}")
        cond = r.rule.condition.text + (f" [{r.rule.scope()}]" if r.rule.scope() else "") + (
            f" for {format_duration(r.rule.for_s)}" if r.rule.for_s else "")
        then = ", ".join(r.rule.spec.notify) + (
            f" → {', '.join(r.rule.spec.actions)}" if r.rule.spec.actions else "")
        table.add_row(r.rule.key if model is None else r.rule.name,
                      f"[{STATE_STYLE[st]}]{st}[/]", Text(cond), r.rule.severity, value,
                      Text(then), r.rule.source)
    console.print(table)


@alerts_app.command("add")
@handle_errors
def add_cmd(
    ctx: typer.Context,
    model: Model,
    name: Annotated[str | None, typer.Argument(help="Rule name (or give --file).")] = None,
    condition: Annotated[str | None, typer.Option(
        "--condition", "-c", help="METRIC OP NUMBER \\[for DURATION], e.g. "
        "'error_rate > 0.05 for 5m'.")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="YAML with one rule, a list, or {alerts: [...]}.")] = None,
    window: Annotated[str, typer.Option(help="Span the metric is computed over.")] = "5m",
    for_: Annotated[str | None, typer.Option("--for", help="How long before firing.")] = None,
    severity: Annotated[str, typer.Option(help="info | warning | critical.")] = "warning",
    notify: Annotated[list[str] | None, typer.Option(
        "--notify", "-n", help="Notifier name (repeat); default: log.")] = None,
    action: Annotated[list[str] | None, typer.Option(
        "--action", "-a", help=f"On firing (repeat): {', '.join(BUILTIN_ACTIONS)}.")] = None,
    cooldown: Annotated[str, typer.Option(help="Re-notify at most this often.")] = "30m",
    version: Annotated[str | None, typer.Option(help="Only this version's metric.")] = None,
    role: Annotated[str, typer.Option(help="answer | shadow | canary.")] = "answer",
    stage: Annotated[str | None, typer.Option(help="A pipeline stage.")] = None,
    no_data: Annotated[str, typer.Option(help="keep | ok | firing.")] = "keep",
    description: Annotated[str, typer.Option(help="What it means, what to do.")] = "",
    label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeat).")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a rule of that name.")] = False,
) -> None:
    """Add a runtime rule (kept across restarts; the running server picks it up)."""
    from rampup.alerts.service import parse_rule_spec  # start-up time: pydantic models

    alerts, _ = _service(ctx)
    if file is not None:
        specs = _rules_from_file(file)
    else:
        if name is None or condition is None:
            raise ValidationError("give a rule NAME and --condition, or --file",
                                  fix="e.g. rampup alerts add credit high-errors "
                                      "-c 'error_rate > 0.05 for 5m'")
        data: dict[str, Any] = {
            "name": name, "condition": condition, "window": window, "severity": severity,
            "notify": notify or ["log"], "actions": action or [], "cooldown": cooldown,
            "version": version, "role": role, "stage": stage, "no_data": no_data,
            "description": description, "labels": _labels(label or [])}
        if for_ is not None:
            data["for"] = for_
        specs = [parse_rule_spec(data, f"rule {name}")]
    for spec in specs:
        rule = alerts.add(model, spec, actor=_actor(), replace=replace)
        console.print(f"[green]added[/] {rule.key}: {escape(rule.condition.text)} "
                      f"(for {format_duration(rule.for_s)}, {rule.severity})")


@alerts_app.command("remove")
@handle_errors
def remove_cmd(ctx: typer.Context, model: Model, name: Rule) -> None:
    """Remove a runtime rule (project rules: edit rampup.yaml or disable them)."""
    alerts, _ = _service(ctx)
    rule = alerts.remove(model, name, actor=_actor())
    console.print(f"[green]removed[/] {rule.key}")


@alerts_app.command("enable")
@handle_errors
def enable_cmd(ctx: typer.Context, model: Model, name: Rule) -> None:
    """Evaluate the rule again."""
    alerts, _ = _service(ctx)
    alerts.set_enabled(model, name, True, actor=_actor())
    console.print(f"[green]enabled[/] {model}/{name}")


@alerts_app.command("disable")
@handle_errors
def disable_cmd(ctx: typer.Context, model: Model, name: Rule) -> None:
    """Stop evaluating the rule (its state goes back to ok); kept across restarts."""
    alerts, _ = _service(ctx)
    alerts.set_enabled(model, name, False, actor=_actor())
    console.print(f"[yellow]disabled[/] {model}/{name}")


@alerts_app.command("history")
@handle_errors
def history_cmd(
    ctx: typer.Context, model: Model,
    name: Annotated[str | None, typer.Argument(help="Rule (default: all).")] = None,
    since: Annotated[str | None, typer.Option(help="How far back, e.g. 1d.")] = None,
    kind: Annotated[list[str] | None, typer.Option(
        help=f"Only these kinds (repeat): {', '.join(KINDS)}.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: AsJson = False,
) -> None:
    """State changes, notifications and actions, newest first."""
    alerts, _ = _service(ctx)
    rows = alerts.history(model, name, since=_since(since) if since else None, kinds=kind,
                          limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=f"alert history of {model}")
    for col in ("time", "rule", "kind", "state", "value", "message"):
        table.add_column(col, overflow="fold")
    for r in rows:
        st = r["state"] or ""
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        table.add_row(time.strftime("%m-%d %H:%M:%S", time.localtime(r["ts"])), r["rule"],
                      r["kind"], f"[{STATE_STYLE.get(st, '')}]{st}[/]" if st else "", value,
                      Text(r["message"]))
    console.print(table if rows else "no alert history")


@alerts_app.command("test")
@handle_errors
def try_cmd(
    ctx: typer.Context, model: Model,
    name: Annotated[str | None, typer.Argument(help="A stored rule.")] = None,
    condition: Annotated[str | None, typer.Option(
        "--condition", "-c", help="Try a condition instead of a stored rule.")] = None,
    window: Annotated[str, typer.Option(help="With --condition: the window.")] = "5m",
    notify: Annotated[bool, typer.Option(
        "--notify", help="Also send a test notification through the rule's notifiers.")
                      ] = False,
) -> None:
    """Measure the rule's metric now and say whether it would alarm (no state change)."""
    from rampup.alerts.dispatch import Dispatcher
    from rampup.alerts.notifiers import build_notifiers
    from rampup.alerts.runner import default_source
    from rampup.alerts.service import parse_rule_spec

    alerts, st = _service(ctx)
    if (name is None) == (condition is None):
        raise ValidationError("give a rule name or --condition (one of them)",
                              fix=f"e.g. rampup alerts test {model} -c 'error_rate > 0.05'")
    target: str | AlertRuleSpec = name if name is not None else parse_rule_spec(
        {"name": "test", "condition": condition, "window": window})
    result = alerts.test(model, target, default_source(st.store()))
    verdict = "[bold red]would alarm[/]" if result.breached else "[green]quiet[/]"
    console.print(f"{result.rule.key}: {escape(result.message)} → {verdict}")
    if notify:
        payload = {"rule": result.rule.name, "model": model, "state": "test",
                   "severity": result.rule.severity, "metric": result.rule.metric,
                   "condition": result.rule.condition.text, "value": result.value,
                   "threshold": result.rule.condition.threshold, "ts": time.time(),
                   "message": f"test notification: {result.message}", "test": True}
        dispatcher = Dispatcher(build_notifiers(st.project_file.alerting))
        for d in dispatcher.send_now(result.rule.spec.notify, payload):
            mark = "[green]ok[/]" if d.ok else f"[red]failed[/]: {escape(d.error or '')}"
            console.print(f"  notifier {d.notifier}: {mark} ({d.elapsed_s * 1000:.0f} ms)")


@alerts_app.command("suggest")
@handle_errors
def suggest_cmd(
    ctx: typer.Context, model: Model,
    since: Annotated[str, typer.Option(help="Baseline period, e.g. 7d.")] = "7d",
    window: Annotated[str, typer.Option(help="The rules' window (history step).")] = "5m",
    margin: Annotated[float, typer.Option(min=1.0, help="Factor beyond the normal range.")
                      ] = 1.5,
    apply: Annotated[bool, typer.Option("--apply", help="Add them as runtime rules.")
                     ] = False,
) -> None:
    """Propose thresholds from each metric's own history (YAML for rampup.yaml)."""
    from rampup.alerts.runner import default_source
    from rampup.alerts.suggest import (
        candidate_metrics,
        gather,
        skipped_key_metrics,
        suggest_rules,
        to_yaml,
    )

    alerts, st = _service(ctx)
    store = st.store()
    spec = st.project_file.models.get(model)
    slo = spec.slo if spec is not None else None
    now = time.time()
    metrics = candidate_metrics(store, model, slo)
    series = gather(default_source(store), model, metrics, since=parse_time(since, "--since", now),
                    until=now, step_s=parse_duration(window, "--window", positive=True))
    suggestions = suggest_rules(model, series, slo=slo, margin=margin, window=window)
    typer.echo(to_yaml(model, suggestions, skipped_key_metrics(store, model, slo)), nl=False)
    if apply:
        for s in suggestions:
            alerts.add(model, s.spec, actor=_actor(), replace=True)
        console.print(f"[green]added {len(suggestions)} runtime rule(s)[/] to {model}")


@alerts_app.command("review")
@handle_errors
def review_cmd(
    ctx: typer.Context, model: Model,
    since: Annotated[str, typer.Option(help="Period to review, e.g. 30d.")] = "30d",
    as_json: AsJson = False,
) -> None:
    """Rules that never fired or fire too often: candidates to drop or retune."""
    from rampup.alerts.review import review_rules

    alerts, st = _service(ctx)
    store = st.store()
    now = time.time()
    start = parse_time(since, "--since", now)
    names = [r.name for r in alerts.rules(model)]
    initial = {}
    for n in names:
        before = store.alerts.list_alert_events(model, n, until=start, kinds=["state"], limit=1)
        initial[n] = before[0]["state"] if before else "ok"
    events = store.alerts.list_alert_events(model, since=start, kinds=["state"], limit=None)
    reviews = review_rules(names, events, since=start, until=now, initial=initial)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reviews], indent=2))
        return
    table = Table(title=f"alert rules of {model}, last {since}")
    for col in ("rule", "verdict", "fired", "per day", "firing", "advice"):
        table.add_column(col)
    style = {"never_fired": "yellow", "always_firing": "bold red", "frequent": "red",
             "ok": "green"}
    for r in reviews:
        table.add_row(r.rule, f"[{style[r.verdict]}]{r.verdict}[/]", str(r.fired),
                      f"{r.per_day:g}", f"{r.firing_share:.0%}", Text(r.advice))
    console.print(table if reviews else f"{model} has no alert rules")


@export_app.command("grafana")
@handle_errors
def grafana_cmd(
    model: Model,
    output: Annotated[Path, typer.Option("--output", "-o", help="Dashboard JSON file.")
                      ] = Path("dashboard.json"),
    title: Annotated[str | None, typer.Option(help="Dashboard title.")] = None,
    datasource_uid: Annotated[str, typer.Option(
        help="The Prometheus data source's uid: the default is an import input (Dashboards → "
             "Import asks for it); file provisioning needs a real uid (deploy/compose uses "
             "'prometheus').")] = "${DS_PROMETHEUS}",
) -> None:
    """A Grafana dashboard over the Prometheus metrics rampup exposes at /metrics."""
    from rampup.alerts.export import grafana_dashboard

    board = grafana_dashboard(model, title=title, datasource_uid=datasource_uid)
    output.write_text(json.dumps(board, indent=2) + "\n", encoding="utf-8")
    console.print(f"[green]wrote[/] {output} (import it in Grafana: Dashboards → Import)")


@export_app.command("prometheus-rules")
@handle_errors
def prometheus_rules_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Rule file (YAML).")
                      ] = Path("rules.yml"),
    model: Annotated[str | None, typer.Option(help="Only this model's rules.")] = None,
    runtime: Annotated[bool, typer.Option(
        help="Include rules added at run time (read from the store).")] = False,
) -> None:
    """The project's alert rules as Prometheus alerting rules (others listed as skipped)."""
    import yaml  # start-up time

    from rampup.alerts.export import prometheus_rules
    from rampup.alerts.rules import AlertRule

    st = state(ctx)
    project = st.project_file
    if runtime:
        alerts, _ = _service(ctx)
        rules = [r for r in alerts.rules(model) if r.enabled]
    else:
        rules = [AlertRule.from_spec(m, spec) for m, ms in project.models.items()
                 for spec in ms.alerts if spec.enabled and model in (None, m)]
    data, skipped = prometheus_rules(rules, group=f"rampup-{project.name}")
    output.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    console.print(f"[green]wrote[/] {output}: {len(data['groups'][0]['rules'])} rule(s)")
    for key, why in skipped:
        console.print(f"  [yellow]skipped[/] {escape(key)}: {escape(why)}", soft_wrap=True)


def _rules_from_file(path: Path) -> list[AlertRuleSpec]:
    import yaml  # start-up time

    from rampup.alerts.service import parse_rule_spec

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read rules from {path}: {exc}",
                              fix="give a YAML file with one rule or a list of rules") from None
    if isinstance(data, dict) and "alerts" in data:
        data = data["alerts"]
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items) or not items:
        raise ValidationError(f"{path} holds no rules",
                              fix="write a mapping with name and condition, or a list of them")
    return [parse_rule_spec(i, f"{path} rule {n + 1}") for n, i in enumerate(items)]


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"label {item!r} is not KEY=VALUE", fix="e.g. --label team=risk")
        out[key] = value
    return out
