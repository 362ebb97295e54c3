"""``rampup register``, ``versions``, ``show`` and ``apply``: the model registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from rampup.cli._context import console, handle_errors, print_wide, state
from rampup.errors import ValidationError

if TYPE_CHECKING:
    from rampup.registry.registry import Registry
    from rampup.store import VersionRecord


def register(app: typer.Typer) -> None:
    app.command("register")(register_version)
    app.command("versions")(versions)
    app.command("show")(show)
    app.command("apply")(apply)


def parse_pairs(pairs: list[str], *, numeric: bool, what: str) -> dict[str, Any]:
    """``["k=v", ...]`` → a dict; values parsed as JSON when possible (numbers, booleans).

    >>> parse_pairs(["C=0.5", "solver=lbfgs", "fit=true"], numeric=False, what="--param")
    {'C': 0.5, 'solver': 'lbfgs', 'fit': True}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"{what} {pair!r} is not KEY=VALUE", fix=f"write {what} auc=0.91")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValidationError(f"{what} {key.strip()} = {raw!r} is not a number",
                                  fix=f"write {what} {key.strip()}=0.91")
        out[key.strip()] = value
    return out


def _registry(ctx: typer.Context) -> Registry:
    # start-up time: the registry loads pandas and the flavors; listing needs only the store
    from rampup.registry.registry import Registry

    st = state(ctx)
    return Registry.from_settings(st.settings, st.store(), st.project_file)


def _embedding_function(ctx: typer.Context, model: str) -> str | None:
    """The model's ``embedding_function`` in rampup.yaml (None without one)."""
    spec = state(ctx).load()[1].models.get(model)
    return spec.embedding_function if spec is not None else None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:8]


def _schema_table(record: VersionRecord) -> Table:
    table = Table(title="input schema", title_justify="left")
    for col in ("feature", "type", "nullable", "categories"):
        table.add_column(col)
    features = record.input_schema.get("features", [])
    if not features:
        table.add_row("(any JSON object)", "", "", "")
    for f in features:
        cats = f.get("categories")
        shown = "" if cats is None else ", ".join(map(str, cats[:6])) + (
            f" … (+{len(cats) - 6})" if len(cats) > 6 else "")
        table.add_row(f["name"], f.get("dtype", "float"), "yes" if f.get("nullable") else "no",
                      shown)
    return table


def _output_line(record: VersionRecord) -> str:
    out = record.output
    line = f"output: {out.get('kind')}"
    if out.get("classes") is not None:
        line += f" (classes: {', '.join(map(str, out['classes']))})"
    if out.get("has_probabilities"):
        line += " + probabilities"
    return line


def _feature_summary(p: dict[str, Any]) -> str:
    if p.get("kind") == "numeric":
        if p.get("mean") is None:
            return "(no values)"
        return f"mean {p['mean']:.4g} ± {p['std']:.3g}, range [{p['min']:.4g}, {p['max']:.4g}]"
    if p.get("kind") == "categorical":
        freqs = sorted(p.get("frequencies", {}).items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{k} {v:.0%}" for k, v in freqs)
    length = p.get("length") or {}
    if length.get("mean") is None:
        return "(no values)"
    return f"{p.get('distinct')} distinct, mean length {length['mean']:.1f}"


def _profile_table(profile: dict[str, Any]) -> Table:
    table = Table(title=f"reference profile ({profile.get('rows')} rows)", title_justify="left")
    for col in ("feature", "kind", "missing", "summary"):
        table.add_column(col)
    rows = list(profile.get("features", {}).items())
    if profile.get("label"):
        rows.append((f"{profile['label']['name']} (label)", profile["label"]))
    for name, p in rows:
        table.add_row(name, p.get("kind", ""), f"{p.get('missing_fraction', 0):.1%}",
                      _feature_summary(p))
    return table


def _print_version(record: VersionRecord, *, profile: bool) -> None:
    console.print(f"[bold]{record.model}@{record.version}[/]  flavor {record.flavor}  "
                  f"hash {record.artifact_hash}", highlight=False, soft_wrap=True)
    console.print(f"artifact {record.artifact_uri}, registered {_when(record.created_at)} UTC "
                  f"by {record.created_by}", highlight=False, soft_wrap=True)
    console.print(_schema_table(record))
    console.print(_output_line(record), highlight=False)
    if profile and record.profile:
        console.print(_profile_table(record.profile))


@handle_errors
def register_version(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name, e.g. loan-default.")],
    path: Annotated[str, typer.Argument(
        help="Artifact: .joblib/.pkl/.onnx file, MLflow model folder, or file.py:Name / "
             "package.module:Name.")],
    version: Annotated[str | None, typer.Option(help="Version name (default: v<N>).")] = None,
    flavor: Annotated[str, typer.Option(
        help="auto, sklearn, onnx, mlflow or python.")] = "auto",
    reference: Annotated[str | None, typer.Option(
        help="Training data (CSV/Parquet; a path or an fsspec URL such as "
             "s3://bucket/train.parquet): types, categories and the reference profile.")
    ] = None,
    label_column: Annotated[str | None, typer.Option(
        help="The label column in the reference data.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Training parameter KEY=VALUE.")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="Offline metric KEY=NUMBER.")] = None,
    deploy: Annotated[bool | None, typer.Option(
        "--deploy/--no-deploy",
        help="Route all traffic to this version (default: only if nothing is deployed).")
    ] = None,
    embedding_function: Annotated[str | None, typer.Option(
        help="module:function turning one input record into an embedding (embedding drift)"
             "; default: the model's embedding_function in rampup.yaml.")] = None,
) -> None:
    """Register a model artifact as a new, immutable version."""
    metadata = {"params": parse_pairs(param or [], numeric=False, what="--param"),
                "metrics": parse_pairs(metric or [], numeric=True, what="--metric")}
    registry = _registry(ctx)
    with console.status(f"registering {model} (copy, inspect, profile, test-predict)…"):
        record = registry.register(model, path, version=version, flavor=flavor,
                                   reference=reference, label_column=label_column,
                                   metadata=metadata, actor="cli", deploy=deploy,
                                   embedding_function=embedding_function
                                   or _embedding_function(ctx, model))
    console.print(f"[green]registered[/] {record.model}@{record.version}", highlight=False)
    _print_version(record, profile=True)
    current = registry.store.deployments.current_deployment(model)
    if current is not None:
        routes = current.policy.get("routes", {})
        console.print("traffic: " + ", ".join(f"{v} {w:g}%" for v, w in routes.items()),
                      highlight=False)


@handle_errors
def versions(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
) -> None:
    """List registered versions (and the traffic each gets now)."""
    store = state(ctx).store()
    records = store.models.list_versions(model)
    if not records:
        console.print("no versions registered" + (f" for {model}" if model else "")
                      + "; add one with 'rampup register MODEL PATH'")
        return
    routes: dict[str, dict[str, Any]] = {}
    for name in {r.model for r in records}:
        current = store.deployments.current_deployment(name)
        routes[name] = current.policy.get("routes", {}) if current else {}
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("model", "version", "flavor", "inputs", "output", "traffic", "hash",
                "registered UTC", "metrics", "audit"):
        table.add_column(col, no_wrap=col not in ("metrics",))
    for r in records:
        weight = routes[r.model].get(r.version)
        metrics, audit = _experiment(store, r)
        table.add_row(r.model, r.version, r.flavor, str(len(r.input_schema.get("features", []))),
                      str(r.output.get("kind")), f"{weight:g}%" if weight else "",
                      _short(r.artifact_hash), _when(r.created_at), metrics, audit)
    print_wide(table)


KEY_METRICS = ("accuracy", "roc_auc", "f1_macro", "mae", "rmse", "r2")


def _experiment(store: Any, r: VersionRecord) -> tuple[str, str]:
    """The experiment record beside each version: its params/metrics and the latest
    stored evaluation and audit (``rampup evaluate`` / ``rampup audit``)."""
    shown: dict[str, Any] = {}
    user = r.metadata.get("metrics") if isinstance(r.metadata.get("metrics"), dict) else {}
    shown.update({k: v for k, v in (user or {}).items() if isinstance(v, int | float)})
    evals = store.evaluations.list_evaluations(r.model, r.version, kind="evaluation", limit=1)
    if evals:
        summary = evals[0].summary or {}
        shown.update({k: summary[k] for k in KEY_METRICS
                      if isinstance(summary.get(k), int | float)})
    metrics = ", ".join(f"{k} {v:.3g}" for k, v in list(shown.items())[:4])
    audits = store.evaluations.list_evaluations(r.model, r.version, kind="audit", limit=1)
    audit = "" if not audits else ("[green]pass[/]" if audits[0].passed else "[red]fail[/]")
    return metrics, audit


@handle_errors
def show(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="MODEL@VERSION (or MODEL for the latest).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")
                       ] = False,
) -> None:
    """Show a version: schema, output, reference profile and metadata."""
    from rampup.store import VersionRecord

    registry = _registry(ctx)
    model, _, version = target.partition("@")
    record = registry.get(model, version) if version else registry.latest(model)
    if as_json:
        doc = {f: getattr(record, f) for f in VersionRecord.__slots__}
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    _print_version(record, profile=True)
    md = record.metadata
    for key in ("params", "metrics"):
        if md.get(key):
            console.print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in md[key].items()),
                          highlight=False)
    facts = {k: v for k, v in md.items() if k not in ("params", "metrics")}
    for key, value in facts.items():
        shown = (", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict)
                 else value)
        console.print(f"{key}: {shown}", highlight=False, soft_wrap=True)


@handle_errors
def apply(ctx: typer.Context) -> None:
    """Register every version declared in rampup.yaml that is not registered yet."""
    st = state(ctx)
    settings, project = st.load()
    if not project.models:
        console.print("rampup.yaml declares no models; nothing to do")
        return
    registry = _registry(ctx)
    with console.status("registering the versions declared in rampup.yaml…"):
        items = registry.sync_project(project, settings.project_dir)
    table = Table()
    for col in ("model", "version", "status", "flavor", "hash"):
        table.add_column(col)
    for item in items:
        style = "green" if item.status == "registered" else "dim"
        table.add_row(item.model, item.version, f"[{style}]{item.status}[/]",
                      item.record.flavor, _short(item.record.artifact_hash))
    console.print(table)
