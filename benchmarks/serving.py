"""Serving benchmark: rampup against the fastest bare endpoint on the same model.

    python benchmarks/serving.py                      # full run (~5 min)
    python benchmarks/serving.py --background other   # the same, rampup's workers on CPU 2
    python benchmarks/serving.py --quick              # smoke run (~2 s per measurement)

Configs, each its own uvicorn process (1 worker, same flags) pinned to one CPU, with
wrk pinned to another: (n) bare Starlette with a NumPy row, the baseline, (a) the same
with a pandas row, (b) rampup predict with logging, monitoring and automation on and
micro-batching off, (c) rampup with micro-batching on. Each runs at 1 and 16
connections after a warm-up, in interleaved rounds (medians reported); then n, b and
c at a fixed offered load (open loop), b's single-record p99 while 1,000-record
requests flow, and the prediction-log writer's throughput on SQLite and PostgreSQL.
Exit status 1 with --check when a target fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import orjson
import psutil
from rich.console import Console

from _logwriter import make_records, measure, scratch_postgres
from _model import FEATURES, big_payloads, build, payloads
from _openloop import lua_script as open_loop_script
from _report import CONFIGS, render, targets
from _server import MODEL_NAME
from _tail import mixed, open_loop, summarise
from _wrk import INSTALL_HINT, lua_script, run_wrk, wrk_path, wrk_version

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("RAMPUP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
console = Console(width=None if sys.stdout.isatty() else 110)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=None,
                   help="measured seconds per config and connection count (default 10)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds of warm-up before each measurement (default 2)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds the duration is split into; medians are reported "
                        "(default 2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 s measurements, 1 s warm-up, 20k log rows")
    p.add_argument("--connections", default="1,16", help="comma-separated (default 1,16)")
    p.add_argument("--configs", default="n,a,b,c,d", help="which of n,a,b,c,d to run")
    p.add_argument("--background", choices=["same", "other"], default="same",
                   help="rampup's background workers (log writer, monitor, automation...) "
                        "on the server's CPU (default) or on the other one, beside wrk")
    p.add_argument("--open-loop-rate", type=float, default=1000.0,
                   help="offered req/s of the open-loop point (0: skip it)")
    p.add_argument("--open-loop-conns", type=int, default=32,
                   help="connections the open-loop generator spreads its schedule over")
    p.add_argument("--mixed-rate", type=float, default=300.0,
                   help="single-record req/s while large requests flow (0: skip that part)")
    p.add_argument("--large-rate", type=float, default=4.0,
                   help="large requests per second beside the singles")
    p.add_argument("--large-size", type=int, default=1000, help="records per large request")
    p.add_argument("--log-rows", type=int, default=None,
                   help="records for the log writer (default 200000)")
    p.add_argument("--postgres-url", default=PG_URL, help="PostgreSQL for the log writer")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL writer run")
    p.add_argument("--no-log-writer", action="store_true", help="skip the log writer part")
    p.add_argument("--py-spy", action="store_true",
                   help="record a py-spy flame graph of each rampup measurement")
    p.add_argument("--py-spy-raw", action="store_true",
                   help="with --py-spy: collapsed stacks (.txt, for grep and "
                        "benchmarks/_stacks.py) instead of SVG flame graphs")
    p.add_argument("--results", type=Path, default=HERE / "results", help="output folder")
    p.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args(argv)
    # --quick changes the defaults; explicit options still win.
    defaults = {"duration": 2.0, "warmup": 1.0, "rounds": 1, "log_rows": 20_000} if args.quick \
        else {"duration": 10.0, "warmup": 2.0, "rounds": 2, "log_rows": 200_000}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.connections = [int(c) for c in str(args.connections).split(",")]
    args.configs = [c.strip() for c in str(args.configs).split(",")]
    return args


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http(method: str, url: str, body: bytes | None = None,
         timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A benchmark server subprocess (see _server.py)."""

    def __init__(self, config: str, args: list[str], cpu: int | None, loop: str,
                 http_impl: str, log: Path) -> None:
        self.config = config
        self.log = log
        self.port = free_port()
        cmd = [sys.executable, str(HERE / "_server.py"), *args, "--port", str(self.port),
               "--loop", loop, "--http", http_impl]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        # Output goes to a file: a full pipe would stall the server mid-measurement.
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.config} exited early:\n{self.output()}")
            try:
                if http("GET", self.base + "/readyz", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server {self.config} was not ready after {timeout:.0f} s")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


BARE = ("n", "a")


def predict_path(config: str) -> str:
    return "/predict" if config in BARE else f"/v1/models/{MODEL_NAME}/predict"


def sanity_check(server: Server, bodies: list[dict[str, Any]], model: Any) -> None:
    """Real requests before timing: each answer must be the model's own prediction."""
    import pandas as pd

    expected = model.predict_proba(pd.DataFrame(bodies, columns=FEATURES))
    for body, proba in zip(bodies, expected, strict=True):
        status, raw = http("POST", server.base + predict_path(server.config),
                           orjson.dumps(body))
        if status != 200:
            raise RuntimeError(f"config {server.config}: POST returned {status}: {raw[:500]!r}")
        doc = orjson.loads(raw)
        pred = doc["predictions"][0] if server.config not in BARE else doc
        want = {str(c): float(p) for c, p in zip(model.classes_, proba, strict=True)}
        got = pred.get("probabilities") or {}
        if pred.get("prediction") != model.classes_[proba.argmax()].item() or set(got) != set(
                want) or any(abs(got[k] - want[k]) > 1e-9 for k in want):
            raise RuntimeError(f"config {server.config}: answered {pred}, the model says "
                               f"{want}")


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def py_spy(pid: int, out: Path, seconds: float, cpu: int | None) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if exe is None:
        console.print("[yellow]py-spy not found (pip install py-spy); not profiling[/]")
        return None

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen([exe, "record", "-p", str(pid), "-o", str(out), "-d",
                             str(max(1, round(seconds))), "-r", "250", "--nonblocking",
                             *(["--format", "raw"] if out.suffix == ".txt" else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)


def start_servers(args: argparse.Namespace, env: dict[str, Any], tmp: Path,
                  model_path: Path, frame: Any, bodies: list[dict[str, Any]]
                  ) -> dict[str, Server]:
    import joblib

    background = [] if env["background_cpu"] is None else [
        "--background-cpu", str(env["background_cpu"])]
    specs = {
        "n": ["numpy", "--model", str(model_path.with_name("model-numpy.joblib")),
              "--columns", ",".join(FEATURES)],
        "a": ["bare", "--model", str(model_path)],
        "b": ["rampup", "--project-dir", str(tmp / "project-b"), *background],
        "c": ["rampup", "--project-dir", str(tmp / "project-c"), "--batching", *background],
        "d": ["rampup", "--project-dir", str(tmp / "project-d"), "--no-compile", *background],
    }
    servers: dict[str, Server] = {}
    for config in args.configs:
        if config not in BARE:
            (tmp / f"project-{config}").mkdir()
            prepare_rampup(tmp / f"project-{config}", model_path, frame)
        servers[config] = Server(config, specs[config], env["server_cpu"], env["loop"],
                                 env["http"], tmp / f"server-{config}.log")
    model = joblib.load(model_path)
    for server in servers.values():
        server.wait_ready()
        sanity_check(server, bodies[:8], model)
    return servers


def measure_slot(server: Server, conns: int, args: argparse.Namespace, env: dict[str, Any],
                 seconds: float, profile: bool) -> dict[str, Any]:
    """Warm up, then one timed wrk run against one server."""
    url = server.base + predict_path(server.config)
    run_wrk(env["wrk"], url, env["script"], connections=conns, seconds=args.warmup,
            cpu=env["wrk_cpu"])
    spy = None
    if profile:
        out = args.results / (f"profile-{server.config}-c{conns}-{env['stamp']}"
                              + (".txt" if args.py_spy_raw else ".svg"))
        spy = py_spy(server.proc.pid, out, seconds, env["wrk_cpu"])
    proc = psutil.Process(server.proc.pid)
    before = proc.cpu_times()
    r = run_wrk(env["wrk"], url, env["script"], connections=conns, seconds=seconds,
                cpu=env["wrk_cpu"])
    after = proc.cpu_times()
    if spy is not None:
        spy.wait(60)
    # The server's own CPU time per request (all its threads, the log writer included):
    # unlike req/s it barely moves when other work shares the machine.
    cpu_s = (after.user - before.user) + (after.system - before.system)
    r["cpu_ms_per_req"] = cpu_s * 1000 / r["requests"] if r["requests"] else 0.0
    return r


def run_rounds(servers: dict[str, Server], args: argparse.Namespace,
               env: dict[str, Any]) -> list[dict[str, Any]]:
    """Interleave the configs in rounds, so a burst of outside load hits all of them."""
    seconds = max(1, round(args.duration / args.rounds))
    slots: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for k in range(args.rounds):
        for conns in args.connections:
            for config, server in servers.items():
                console.print(f"  round {k + 1}/{args.rounds}: {CONFIGS[config]}, {conns} "
                              f"conn(s): warm-up {args.warmup:g} s, measure {seconds} s")
                profile = args.py_spy and config not in BARE and k == 0
                r = measure_slot(server, conns, args, env, seconds, profile)
                slots.setdefault((config, conns), []).append(r)
    rows = []
    for conns in args.connections:
        for config in servers:
            rounds = slots[(config, conns)]
            rows.append({
                "config": config, "label": CONFIGS[config], "connections": conns,
                "req_per_s": median(r["req_per_s"] for r in rounds),
                "p50_ms": median(r["p50_us"] for r in rounds) / 1000,
                "p90_ms": median(r["p90_us"] for r in rounds) / 1000,
                "p99_ms": median(r["p99_us"] for r in rounds) / 1000,
                "p999_ms": median(r.get("p999_us", 0) for r in rounds) / 1000,
                "max_ms": max(r["max_us"] for r in rounds) / 1000,
                "cpu_ms_per_req": median(r["cpu_ms_per_req"] for r in rounds),
                "errors": sum(r["errors"] for r in rounds),
                "requests": sum(r["requests"] for r in rounds), "rounds": rounds})
    return rows


def run_open_loop(servers: dict[str, Server], args: argparse.Namespace,
                  env: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of n, b, c at the same fixed offered rate, in interleaved rounds."""
    if args.open_loop_rate <= 0:
        return []
    seconds = max(1, round(args.duration / args.rounds))
    chosen = [c for c in servers if c in ("n", "b", "c")]
    got: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
    for k in range(args.rounds):
        for config in chosen:
            console.print(f"  open loop round {k + 1}/{args.rounds}: {CONFIGS[config]} at "
                          f"{args.open_loop_rate:,.0f} req/s for {seconds} s")
            url = servers[config].base + predict_path(config)
            got[config].append(open_loop(env["wrk"], url, env["open_script"],
                                         conns=args.open_loop_conns, seconds=seconds,
                                         cpu=env["wrk_cpu"]))
    return [{"config": c, "rate": args.open_loop_rate, **summarise(rounds)}
            for c, rounds in got.items()]


def run_mixed(servers: dict[str, Server], args: argparse.Namespace,
              env: dict[str, Any]) -> list[dict[str, Any]]:
    """b's single-record p99 alone and while large requests flow (alternating rounds)."""
    if args.mixed_rate <= 0 or "b" not in servers:
        return []
    seconds = max(1, round(args.duration / args.rounds))
    url = servers["b"].base + predict_path("b")
    alone, beside = [], []
    for k in range(args.rounds):
        console.print(f"  mixed round {k + 1}/{args.rounds}: singles at {args.mixed_rate:g} "
                      f"req/s, alone then beside {args.large_rate:g}/s x "
                      f"{args.large_size:,}-record requests, {seconds} s each")
        alone.append(open_loop(env["wrk"], url, env["mixed_script"], conns=8,
                               seconds=seconds, cpu=env["wrk_cpu"]))
        beside.append(mixed(env["wrk"], url, env["mixed_script"], env["large_script"],
                            conns=8, seconds=seconds, cpu=env["wrk_cpu"]))
    large = summarise([r.pop("large") for r in beside])
    return [{"config": "b", "rate": args.mixed_rate, "large_rate": args.large_rate,
             "size": args.large_size, "alone": summarise(alone),
             "with_large": summarise(beside), "large": large}]


def stop_servers(servers: dict[str, Server]) -> dict[str, float]:
    """Stop every server (rampup drains its log on the way out); return log drops."""
    dropped = {}
    for config, server in servers.items():
        if config not in BARE and server.proc.poll() is None:
            try:
                _, text = http("GET", server.base + "/metrics")
                dropped[config] = metric(text.decode(), "rampup_predlog_dropped_total")
            except OSError:
                pass
        output = server.stop()
        if server.proc.returncode not in (0, -signal.SIGINT):
            console.print(f"[yellow]server {config} exited with {server.proc.returncode}:[/]"
                          f"\n{output[-2000:]}")
    return dropped


def prepare_rampup(project: Path, model_path: Path, frame: Any) -> str:
    """Register the model in a fresh project (SQLite store), as `rampup register` would."""
    from rampup.config import Settings
    from rampup.registry.registry import Registry
    from rampup.store import Database

    settings = Settings(project_dir=project)
    store = Database.open(settings.resolved_database_url)
    try:
        record = Registry.from_settings(settings, store).register(
            MODEL_NAME, model_path, reference=frame, label_column="y")
    finally:
        store.close()
    return record.version


def logged_rows(project: Path) -> int:
    from rampup.config import Settings
    from rampup.store import Database

    store = Database.open(Settings(project_dir=project).resolved_database_url)
    try:
        return store.predictions.count_predictions(MODEL_NAME)
    finally:
        store.close()


def bench_log_writer(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    console.print(f"prediction-log writer: building {args.log_rows:,} records")
    records = make_records(args.log_rows)
    out = []
    console.print("  sqlite ...")
    out.append(measure(f"sqlite:///{tmp / 'predlog.db'}", records))
    if args.no_postgres:
        out.append({"backend": "postgresql", "skipped": "--no-postgres"})
        return out
    console.print("  postgresql ...")
    try:
        with scratch_postgres(args.postgres_url) as url:
            out.append(measure(url, records))
    except Exception as exc:  # an unreachable server is reported, not fatal
        out.append({"backend": "postgresql", "skipped": f"{type(exc).__name__}: {exc}"[:200]})
    return out


def environment(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    import pandas as pd
    import sklearn
    import starlette
    import uvicorn

    import rampup

    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    if not pinned:
        console.print("[yellow]only one CPU available: server and wrk will share it[/]")
    return {
        "wrk": wrk, "wrk_version": wrk_version(wrk),
        "server_cpu": cpus[0] if pinned else None, "wrk_cpu": cpus[1] if pinned else None,
        "background": args.background,
        "background_cpu": cpus[1] if pinned and args.background == "other" else None,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "cpu_model": _cpu_model(),
        "versions": {"rampup": rampup.__version__, "scikit-learn": sklearn.__version__,
                     "pandas": pd.__version__, "starlette": starlette.__version__,
                     "uvicorn": uvicorn.__version__},
        "duration_s": args.duration, "warmup_s": args.warmup,
        "connections": args.connections, "rounds": args.rounds,
        "loadavg_start": os.getloadavg(), "stamp": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
    }


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in avg)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = wrk_path()
    if wrk is None:
        console.print(f"[red]{INSTALL_HINT}[/]")
        return 2
    env = environment(args, wrk)
    args.results.mkdir(parents=True, exist_ok=True)
    where = ("the server's CPU" if env["background_cpu"] is None
             else f"CPU {env['background_cpu']}")
    console.print(f"[bold]rampup serving benchmark[/] — {env['cpu_model']}, python "
                  f"{env['python']}, server on CPU {env['server_cpu']}, wrk on CPU "
                  f"{env['wrk_cpu']}, uvicorn loop={env['loop']} http={env['http']}; "
                  f"rampup's background workers on {where}")
    with tempfile.TemporaryDirectory(prefix="rampup-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env["tmp"] = tmp
        console.print("fitting LogisticRegression (16 features, fitted on a DataFrame)")
        model_path, frame = build(tmp)
        bodies = payloads(frame)
        env["script"] = tmp / "post.lua"
        env["script"].write_text(lua_script(bodies))
        env["open_script"] = tmp / "open.lua"
        env["open_script"].write_text(open_loop_script(bodies, max(args.open_loop_rate, 1.0)))
        env["mixed_script"] = tmp / "mixed.lua"
        env["mixed_script"].write_text(open_loop_script(bodies, max(args.mixed_rate, 1.0)))
        env["large_script"] = tmp / "large.lua"
        env["large_script"].write_text(open_loop_script(
            big_payloads(frame, args.large_size), max(args.large_rate, 0.1)))
        console.print(f"starting servers {', '.join(args.configs)} (registering the model)")
        servers = start_servers(args, env, tmp, model_path, frame, bodies)
        try:
            runs = run_rounds(servers, args, env)
            opened = run_open_loop(servers, args, env)
            mixes = run_mixed(servers, args, env)
        finally:
            dropped = stop_servers(servers)
        logged = {c: logged_rows(tmp / f"project-{c}") for c in servers if c not in BARE}
        writers = [] if args.no_log_writer else bench_log_writer(args, tmp)
    env["loadavg_end"] = os.getloadavg()
    checks = targets(runs, writers, opened, mixes)
    console.print()
    render(console, runs, writers, checks, opened, mixes,
           title=f"Serving: one record per request (wrk, 1 thread); rampup's background "
                 f"workers on {where}")
    for config, n in logged.items():
        served = sum(r["requests"] for r in runs if r["config"] == config)
        console.print(f"config {config}: {n:,} predictions in the log, "
                      f"{dropped.get(config, 0):g} dropped (timed requests: {served:,}; "
                      "the rest are warm-up)")
    console.print(f"load average before/after: {_load(env['loadavg_start'])} / "
                  f"{_load(env['loadavg_end'])} on {env['cpu_count']} CPUs"
                  + (" [yellow](other work was running: expect noise)[/]"
                     if max(env["loadavg_start"][0], env["loadavg_end"][0]) > 0.5 else ""))
    for key in ("script", "tmp", "open_script", "mixed_script", "large_script"):
        env[key] = str(env[key])
    result = {"environment": env, "runs": runs, "open_loop": opened, "mixed": mixes,
              "log_writer": writers, "targets": checks,
              "logged_rows": logged, "log_dropped": dropped}
    path = args.results / f"serving-{env['stamp']}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"results written to {path}")
    failed = [c["name"] for c in checks if not c["passed"]]
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
