"""``rampup demo``: a project, two trained versions, a live server and traffic, in one command.

:func:`run_demo` creates (or reuses) a project folder, trains v1 and v2 on generated loan
applications, registers both (v1 deployed, v2 waiting for you to roll it out), writes
an admin token, serves the model in-process on 127.0.0.1, drives traffic with delayed
labels at it, prints what to open and try and a live status line, and on Ctrl-C (or
after ``duration`` seconds) shuts down gracefully and prints what the store holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.engine import make_url

from rampup.config import Settings
from rampup.demo import display
from rampup.demo.data import FEATURES, LABEL, LoanGenerator
from rampup.demo.traffic import TrafficStats, drive, generator_source
from rampup.demo.train import build_demo_artifacts
from rampup.errors import ConflictError, RampupError
from rampup.project import load_project
from rampup.registry.registry import Registry
from rampup.scaffold import scaffold
from rampup.serving.app import create_app
from rampup.store import Store

MODEL = "loan-default"
HOST = "127.0.0.1"
PORT_TRIES = 11  # the asked port and the next 10
MARKER = ".rampup-demo"
DATA_FILES = ("model_v1.joblib", "model_v2.joblib", "reference.parquet", "holdout.parquet",
              "batch_input.csv", "metrics.json")
_OWNED = ("rampup.yaml", "rampup.db", "rampup.db-wal", "rampup.db-shm", "tokens.txt",
          "data", "artifacts", "example", MARKER)
FOREVER_S = 7 * 24 * 3600.0  # "until Ctrl-C" still gives the load generator a bound

PROJECT_YAML = """\
# Written by 'rampup demo' (rewritten on each run: copy it to start a project of your own).
name: loan-demo
{database}artifacts_dir: artifacts          # registered versions are copied here (read-only)

serving:
  host: 127.0.0.1
  port: 8000

models:
  {model}:
    description: Probability that a loan application defaults (generated data).
    versions:                       # 'rampup apply' / 'rampup serve' find them registered
      v1:
        artifact: data/model_v1.joblib
        reference: data/reference.parquet
        label_column: {label}
        metadata: {{algorithm: logistic_regression}}
      v2:
        artifact: data/model_v2.joblib
        reference: data/reference.parquet
        label_column: {label}
        metadata: {{algorithm: gradient_boosting}}
    slo:
      latency_p99_ms: 50
      expected_qps: {rate:g}
      max_error_rate: 0.01
      key_metrics: [roc_auc, accuracy]
"""


@dataclass(frozen=True)
class DemoResult:
    """What one demo run did and what the store holds afterwards (this run's rows)."""

    directory: Path
    url: str
    port: int
    reused: bool
    stats: TrafficStats
    predictions_logged: int
    labels_joined: int
    total_predictions: int
    tokens_file: Path
    seconds: float


class BackgroundServer:
    """uvicorn serving an ASGI app on 127.0.0.1 from a daemon thread (own event loop)."""

    def __init__(self, app: Any, *, port: int = 0, tries: int = PORT_TRIES) -> None:
        self._sock = bind_port(port, tries)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="on", ws="none", timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rampup-demo-server",
                                        daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit from a failed startup, too
            self.error = exc

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        """Start serving; return once the app's startup (models loaded) is done."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                why = f" ({type(self.error).__name__}: {self.error})" if self.error else ""
                raise RampupError(f"the demo server did not start{why}",
                                  fix="see the log lines above; rerun with --fresh to "
                                      "rebuild the demo project")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: in-flight requests finish and the prediction log drains."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()


def bind_port(port: int, tries: int = PORT_TRIES) -> socket.socket:
    """A socket bound to 127.0.0.1 on ``port`` or, if busy, one of the next ports
    (``port=0``: any free port)."""
    candidates = [0] if port == 0 else list(range(port, min(port + tries, 65536)))
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise
        return sock
    raise ConflictError(f"ports {candidates[0]}-{candidates[-1]} on {HOST} are all in use",
                        fix="pass another --port (0 picks any free port)")


# -- the project ----------------------------------------------------------------------------

def prepare_project(directory: Path, *, fresh: bool, rate: float,
                    database_url: str | None) -> bool:
    """Create the demo project folder, or reuse it (returns True then)."""
    is_demo = (directory / MARKER).exists()
    if (directory / "rampup.yaml").exists() and not is_demo:
        raise ConflictError(f"{directory} holds a rampup project the demo did not create",
                            fix="pass another --dir for the demo")
    if fresh and is_demo:  # only what the demo made: never a folder it does not own
        for name in _OWNED:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    reused = (directory / MARKER).exists()
    if not reused:
        scaffold(directory, name="loan-demo", force=True)  # artifacts/ and example/
        (directory / MARKER).write_text("created by 'rampup demo'\n", encoding="utf-8")
    database = f"database_url: {json.dumps(database_url)}\n" if database_url else ""
    text = PROJECT_YAML.format(database=database, model=MODEL, label=LABEL, rate=rate)
    project_file = directory / "rampup.yaml"
    if not project_file.exists() or project_file.read_text(encoding="utf-8") != text:
        project_file.write_text(text, encoding="utf-8")
    return reused


def write_tokens(directory: Path) -> tuple[str, Path]:
    """A fresh admin token, written ``.env``-style to ``tokens.txt``, readable by you only."""
    token = secrets.token_urlsafe(24)
    path = directory / "tokens.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# written by 'rampup demo'; load with: set -a; . ./tokens.txt; set +a\n"
                f"RAMPUP_ADMIN_TOKEN={token}\n")
    path.chmod(0o600)  # it may have existed with a wider mode
    return token, path


def _train(data: Path, seed: int, n_train: int) -> tuple[dict[str, Any], bool]:
    """Holdout metrics of v1 and v2; trains only when a data file is missing."""
    metrics_file = data / "metrics.json"
    if all((data / f).exists() for f in DATA_FILES):
        return dict(json.loads(metrics_file.read_text(encoding="utf-8"))), False
    art = build_demo_artifacts(data, seed=seed, n_train=n_train)
    info = {"seed": seed, "n_train": n_train, **art.metrics}
    metrics_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info, True


def _register(registry: Registry, data: Path, metrics: dict[str, Any]) -> list[str]:
    """v1 (deployed when the model has no deployment yet) and v2 (never deployed here).
    Returns the versions registered now (none when the project is reused)."""
    added = []
    for version, algorithm in (("v1", "logistic_regression"), ("v2", "gradient_boosting")):
        if registry.store.get_version(MODEL, version) is not None:
            continue
        added.append(version)
        registry.register(
            MODEL, data / f"model_{version}.joblib", version=version,
            reference=data / "reference.parquet", label_column=LABEL, actor="demo",
            metadata={"algorithm": algorithm, "metrics": metrics.get(version, {}),
                      "trained_by": "rampup demo"},
            deploy=None if version == "v1" else False)
    return added


def _count(store: Store, since: float) -> tuple[int, int, int]:
    """(answers logged since ``since``, of which labelled, all predictions of the model)."""
    logged = labelled = 0
    for chunk in store.iter_predictions(MODEL, since=since, roles=["answer"]):
        logged += len(chunk)
        labelled += sum(r["label"] is not None for r in chunk)
    return logged, labelled, store.count_predictions(MODEL)


# -- the run ----------------------------------------------------------------------------------

def run_demo(directory: Path, *, port: int = 8000, duration: float | None = None,
             rate: float = 20.0, seed: int = 0, fresh: bool = False,
             console: Console | None = None, database_url: str | None = None,
             n_train: int = 20_000, status_every: float = 10.0) -> DemoResult:
    """Run the demo until Ctrl-C, or for ``duration`` seconds of traffic; see the module doc.

    The store is the SQLite file ``rampup.db`` in ``directory`` unless ``database_url``
    is given. Tokens and URLs in ``RAMPUP_*`` variables are ignored: the demo makes its own.
    """
    started = time.perf_counter()
    console = console or Console()
    root = Path(directory).resolve()
    steps = display.Steps(console)
    with steps.step("project", "preparing the project folder") as note:
        reused = prepare_project(root, fresh=fresh, rate=rate, database_url=database_url)
        note(f"{'reused' if reused else 'created'} {display.relative(root)}")
    with steps.step("models", "generating data, training v1 and v2") as note:
        metrics, trained = _train(root / "data", seed, n_train)
        note(f"{'trained' if trained else 'reused'} v1 (logistic regression) and v2 "
             "(gradient boosting); holdout AUC "
             + " / ".join(f"{metrics[v]['auc']:.3f}" for v in ("v1", "v2") if v in metrics))
    token, tokens_file = write_tokens(root)
    store_url = database_url or f"sqlite:///{root / 'rampup.db'}"
    store_text = (display.relative(root / "rampup.db") if database_url is None
                  else make_url(database_url).render_as_string(hide_password=True))
    settings = Settings(project_dir=root, artifacts_dir=Path("artifacts"), database_url=store_url,
                        admin_token=SecretStr(token), predict_token=None, host=HOST, port=port)
    store = Store.open(store_url)
    try:
        with steps.step("registry", "registering v1 and v2 with their reference data") as note:
            added = _register(Registry.from_settings(settings, store), root / "data", metrics)
            dep = store.current_deployment(MODEL)
            note(f"{'registered' if added else 'reused'} v1 and v2; live routes: "
                 f"{display.routes_text(dep.policy if dep else {})}")
        app = create_app(settings, load_project(root / "rampup.yaml"))
        run = _Run(console, steps, app, port=port, rate=rate, seed=seed, duration=duration,
                   status_every=status_every, token=token, project=display.relative(root),
                   store=store_text, tokens=display.relative(tokens_file))
        since = time.time()
        stats = asyncio.run(run.main())
        logged, labelled, total = _count(store, since)
    finally:
        store.close()
    display.show_summary(console, stats, logged=logged, labelled=labelled, total=total,
                         store=store_text)
    return DemoResult(directory=root, url=run.url, port=run.port, reused=reused, stats=stats,
                      predictions_logged=logged, labels_joined=labelled,
                      total_predictions=total, tokens_file=tokens_file,
                      seconds=round(time.perf_counter() - started, 3))


class _Run:
    """The asynchronous part: server, example request, traffic with status, shutdown."""

    def __init__(self, console: Console, steps: display.Steps, app: Any, *, port: int,
                 rate: float, seed: int, duration: float | None, status_every: float,
                 token: str, project: str, store: str, tokens: str) -> None:
        self.console, self.steps, self.app = console, steps, app
        self.port, self.url, self.rate, self.seed = port, "", rate, seed
        self.duration, self.status_every, self.token = duration, status_every, token
        self.project, self.store, self.tokens = project, store, tokens
        self.stop = asyncio.Event()
        self.stats = TrafficStats()
        self.server: BackgroundServer | None = None

    def _interrupt(self) -> None:
        if self.stop.is_set():
            if self.server is not None:
                self.server.server.force_exit = True  # a second Ctrl-C: stop waiting
            return
        self.console.print("\n[yellow]stopping…[/] (Ctrl-C again to skip the graceful wait)")
        self.stop.set()

    async def main(self) -> TrafficStats:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
            handles_sigint = True
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            handles_sigint = False
        try:
            await self._serve()
        finally:
            if handles_sigint:
                loop.remove_signal_handler(signal.SIGINT)
        return self.stats

    async def _serve(self) -> None:
        with self.steps.step("server", "starting the server on 127.0.0.1") as note:
            server = self.server = BackgroundServer(self.app, port=self.port)
            await asyncio.to_thread(server.start)
            busy = f" (port {self.port} was busy)" if self.port not in (0, server.port) else ""
            self.port, self.url = server.port, server.url
            note(f"{server.url}{busy}")
        try:
            async with httpx.AsyncClient(base_url=server.url, trust_env=False,
                                         timeout=10.0) as client:
                (await client.get("/readyz")).raise_for_status()
                example = LoanGenerator(self.seed + 2).records(1)[0]
                record = {k: example[k] for k in FEATURES}
                response = await client.post(f"/v1/models/{MODEL}/predict", json=record,
                                             headers={"x-request-key": "user-7"})
                response.raise_for_status()
                self._show_tour(record, response.json(), example[LABEL])
                if not self.stop.is_set():
                    await self._traffic(client)
        finally:
            with self.steps.step("shutdown", "stopping; the prediction log drains") as note:
                await asyncio.to_thread(server.stop)
                note("server stopped, prediction log drained")

    def _show_tour(self, record: dict[str, Any], response: dict[str, Any], label: Any) -> None:
        until = f"for {self.duration:g} s" if self.duration is not None else "until Ctrl-C"
        traffic = (f"~{self.rate:g} predictions/s {until}; 80% get their true label 2-10 s "
                   "later; ~1% are bad on purpose (422)")
        commands = display.try_commands(self.url, MODEL, record, response, label, self.token,
                                        self.project)
        display.show_tour(self.console, url=self.url, model=MODEL, project=self.project,
                          store=self.store, tokens=self.tokens, traffic=traffic,
                          commands=commands)
        self.console.print(f"\nlive status every {self.status_every:g} s; Ctrl-C stops the "
                           "demo", highlight=False)

    async def _traffic(self, client: httpx.AsyncClient) -> None:
        def progress(stats: TrafficStats) -> None:
            self.stats = stats

        traffic = asyncio.create_task(drive(
            self.url, MODEL, generator_source(LoanGenerator(self.seed + 1)),
            rate_per_s=self.rate, stop=self.stop, seed=self.seed, on_progress=progress,
            duration_s=FOREVER_S if self.duration is None else self.duration))
        while not traffic.done():
            await asyncio.wait({traffic}, timeout=self.status_every)
            if not traffic.done():
                self.console.print(await self._status(client), highlight=False,
                                   soft_wrap=True)
        self.stats = traffic.result()

    async def _status(self, client: httpx.AsyncClient) -> str:
        depth = routes = "?"
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            body = (await client.get("/readyz")).json()
            depth = str(body["prediction_log"]["queue_depth"])
            models = (await client.get("/v1/models")).json()["models"]
            routes = ", ".join(display.routes_text(m) for m in models if m["name"] == MODEL)
        return display.status_line(self.stats, depth, routes or "?")
