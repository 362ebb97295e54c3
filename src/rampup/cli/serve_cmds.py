"""``rampup serve`` and ``rampup init``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from rampup.cli._context import console, handle_errors, state
from rampup.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("serve")(serve)


@handle_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    name: Annotated[str | None, typer.Option(
        help="Project name (default: the folder name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing rampup.yaml.")] = False,
) -> None:
    """Scaffold a project: rampup.yaml, an artifacts folder and a runnable example."""
    from rampup.scaffold import scaffold

    created = scaffold(directory, name=name, force=force)
    console.print(f"[green]created[/] project in [bold]{directory.resolve()}[/]")
    for path in created:
        console.print(f"  {path.relative_to(directory.resolve())}")
    console.print("\nnext:\n"
                  f"  cd {directory}\n"
                  "  python example/train.py          # trains example/model.joblib\n"
                  "  rampup apply                     # registers the versions in rampup.yaml\n"
                  "  rampup serve                     # http://127.0.0.1:8000/docs")


@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request.")] = False,
) -> None:
    """Serve every deployed model over HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    from rampup.registry.registry import Registry
    from rampup.serving.app import create_app

    st = state(ctx)
    settings, project = st.load()
    store = st.store()  # applies migrations once, before any worker starts
    if project.models:
        Registry.from_settings(settings, store).sync_project(project, settings.project_dir)
    st.close()
    host = host or settings.host
    port = settings.port if port is None else port
    if host not in ("127.0.0.1", "localhost", "::1") and settings.admin_token is None:
        console.print("[yellow]warning:[/] binding to a public address without "
                      "RAMPUP_ADMIN_TOKEN; admin operations stay disabled")
    console.print(f"rampup serving on [bold]http://{host}:{port}[/] "
                  f"(docs: http://{host}:{port}/docs, store: {settings.resolved_database_url})")
    common = {"host": host, "port": port, "log_level": log_level, "access_log": access_log,
              "loop": "auto", "http": "auto", "timeout_graceful_shutdown": 10}
    if workers == 1:
        uvicorn.run(create_app(settings, project), **common)  # type: ignore[arg-type]
        return
    os.environ["RAMPUP_PROJECT_DIR"] = str(settings.project_dir)
    os.environ["RAMPUP_DATABASE_URL"] = settings.resolved_database_url
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rampup-prom-")
    if settings.resolved_database_url.startswith("sqlite") and workers > 4:
        raise ConfigError("SQLite serves at most 4 workers well",
                          fix="use PostgreSQL (RAMPUP_DATABASE_URL) for more workers")
    uvicorn.run("rampup.serving.factory:app_from_env", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]
