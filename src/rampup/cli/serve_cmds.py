"""``rampup serve`` and ``rampup init``."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from rampup.cli._context import console, handle_errors, state
from rampup.errors import ConfigError

#: addresses only this machine can reach (as rampup.serving.auth.LOOPBACK; no import:
#: start-up time)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_NOT_NAME = re.compile(r"[^a-z0-9._-]+")


def model_name(artifact: str) -> str:
    """A model name from an artifact path: the file or folder name without its suffix.

    >>> model_name("models/Churn Model.joblib"), model_name("mlruns/model/"), model_name("x.onnx")
    ('churn-model', 'model', 'x')
    >>> model_name("acme/models.py:Scorer")
    'scorer'
    """
    target = artifact
    head, sep, tail = artifact.rpartition(":")
    if sep and head and tail and "/" not in tail:  # file.py:Name or package.module:Name
        target = tail
    stem = Path(target.rstrip("/")).name.split(".")[0]
    cleaned = _NOT_NAME.sub("-", stem.lower()).strip("-.")
    return cleaned or "model"


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("serve")(serve)


@handle_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    name: Annotated[str | None, typer.Option(
        help="Project name (default: the folder name).")] = None,
    example: Annotated[bool, typer.Option(
        "--example", help="Also scaffold a runnable example: a loan-default model declared "
                          "in rampup.yaml and the script that trains it.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing rampup.yaml.")] = False,
) -> None:
    """Create a project: rampup.yaml and an artifacts folder (--example adds a model)."""
    from rampup.scaffold import scaffold

    created = scaffold(directory, name=name, force=force, example=example)
    console.print(f"[green]created[/] project in [bold]{directory.resolve()}[/]")
    for path in created:
        console.print(f"  {path.relative_to(directory.resolve())}")
    here = "" if directory.resolve() == Path.cwd() else f"  cd {directory}\n"
    if example:
        console.print("\nnext:\n" + here
                      + "  python example/train.py          # trains example/model.joblib\n"
                        "  rampup serve                     # registers it, serves "
                        "http://127.0.0.1:8000/docs", highlight=False, soft_wrap=True)
        return
    console.print("\nnext, with your model and its training data:\n" + here
                  + "  rampup register NAME model.joblib --reference train.parquet "
                    "--label-column LABEL\n"
                    "  rampup serve                     # http://127.0.0.1:8000/docs\n"
                    "(a .joblib/.pkl scikit-learn model, a .onnx file, an MLflow model folder "
                    "or file.py:Name; 'rampup init --example' scaffolds a runnable example)",
                  highlight=False, soft_wrap=True)


@handle_errors
def serve(
    ctx: typer.Context,
    artifact: Annotated[str | None, typer.Argument(
        help="Serve this model file or folder at once: it is registered (as 'rampup register' "
             "does) and gets all traffic. Without it: every deployed model of the project.")
    ] = None,
    reference: Annotated[Path | None, typer.Option(
        help="With ARTIFACT: its training data (CSV/Parquet): input types, categories and "
             "the drift reference.")] = None,
    label_column: Annotated[str | None, typer.Option(
        help="With ARTIFACT: the label column in the reference data.")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="With ARTIFACT: the model name (default: from the file name).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    engine: Annotated[Literal["local", "ray"], typer.Option(
        "--engine", help="local: uvicorn worker processes on this machine. ray: a Ray Serve "
                         "application, replicas and autoscaling from the ray: section of "
                         "rampup.yaml (needs 'rampup[ray]').")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="With --engine ray: the cluster (default: ray.address in "
                              "rampup.yaml, RAY_ADDRESS, else a local Ray).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request.")] = False,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Serve a non-loopback address without any admin token (admin "
        "operations then stay disabled). Without it such a server refuses to start.")
    ] = False,
) -> None:
    """Serve every deployed model over HTTP (OpenAPI docs at /docs), or one model file."""
    # start-up time: the server, the registry and the flavors load only here
    import uvicorn

    from rampup.registry.registry import Registry
    from rampup.serving.app import create_app

    if engine == "local" and ray_address is not None:
        raise ConfigError("--ray-address goes with --engine ray",
                          fix="add --engine ray, or drop --ray-address")
    if engine == "ray" and workers != 1:
        raise ConfigError("--workers is for the local engine; Ray Serve's replicas come "
                          "from rampup.yaml", fix="set ray.replicas (or ray.autoscaling) in "
                          "rampup.yaml and drop --workers")
    if artifact is None and (reference is not None or label_column is not None
                             or name is not None):
        raise ConfigError("--reference, --label-column and --name go with a model file",
                          fix="rampup serve model.joblib --reference train.parquet")
    st = state(ctx)
    settings, project = st.load()
    store = st.store()  # applies migrations once, before any worker starts
    registry = Registry.from_settings(settings, store, project)
    if project.models:
        with console.status("registering the versions declared in rampup.yaml…"):
            registry.sync_project(project, settings.project_dir)
    if artifact is not None:
        model = name or model_name(artifact)
        with console.status(f"registering {artifact} as {model} (copy, inspect, profile)…"):
            record = registry.register(model, artifact, reference=reference,
                                       label_column=label_column, actor="cli", deploy=True)
        console.print(f"serving [bold]{record.model}@{record.version}[/] ({record.flavor}) "
                      f"at /v1/models/{record.model}/predict", highlight=False)
    host = host or settings.host
    port = settings.port if port is None else port
    admin_tokens = store.credentials.count_tokens("admin")
    st.close()
    if host not in LOOPBACK and settings.admin_token is None and not admin_tokens:
        if not insecure:
            raise ConfigError(
                f"refusing to serve {host} (not a loopback address) without an admin token",
                fix="create one with 'rampup tokens add NAME' (or set RAMPUP_ADMIN_TOKEN), "
                    "or pass --insecure to serve anyway with admin operations disabled")
        console.print("[yellow]warning:[/] --insecure: serving a non-loopback address "
                      "without an admin token; admin operations stay disabled")
    if host != settings.host:
        settings = settings.model_copy(update={"host": host})
    console.print(f"rampup serving on [bold]http://{host}:{port}[/] "
                  f"(docs: http://{host}:{port}/docs, store: {settings.resolved_database_url})")
    if engine == "ray":
        from rampup.serving.ray_serve import serve_ray  # Ray: only here

        serve_ray(settings, project.ray, host, port, ray_address)
        return
    common = {"host": host, "port": port, "log_level": log_level, "access_log": access_log,
              "loop": "auto", "http": "auto", "timeout_graceful_shutdown": 10}
    if workers == 1:
        uvicorn.run(create_app(settings, project), **common)  # type: ignore[arg-type]
        return
    os.environ["RAMPUP_PROJECT_DIR"] = str(settings.project_dir)
    os.environ["RAMPUP_DATABASE_URL"] = settings.resolved_database_url
    os.environ["RAMPUP_HOST"] = host
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rampup-prom-")
    if settings.resolved_database_url.startswith("sqlite") and workers > 4:
        raise ConfigError("SQLite serves at most 4 workers well",
                          fix="use PostgreSQL (RAMPUP_DATABASE_URL) for more workers")
    uvicorn.run("rampup.serving.factory:app_from_env", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]
