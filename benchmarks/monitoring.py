"""Monitoring benchmark: what monitoring costs serving, and that its memory stays flat.

    python benchmarks/monitoring.py            # full run (about 4 minutes)
    python benchmarks/monitoring.py --quick    # smoke run (about 1 minute)

1. Throughput: two rampup servers for the same model in the same run, identical except
   for ``RAMPUP_MONITOR`` (on / off). Each runs in its own uvicorn process pinned to one
   CPU, with wrk pinned to another (as in serving.py). Rounds alternate the two servers
   back to back at 1 and 16 connections, and every request carries a request key (one of
   1,000 users), so repeated-query detection runs too. Target: the median over rounds of
   on/off >= 0.9. The monitor thread's own CPU per request is read from
   ``rampup_monitor_cpu_seconds_total`` (steadier than req/s on a busy machine).
2. Memory: 1,000,000 predictions fed through one Monitor in-process at a simulated
   1,000/s. Windows roll over, and the monitor processes every 0.5 s and flushes every
   5 s to SQLite, as its thread does. RSS is read after 10,000 and after 1,000,000.
   Target: flat (growth <= 10 MB).
3. Flush: one snapshot flush of a replica with 4 windows (2 versions, answer and
   shadow; 16 features), on SQLite and PostgreSQL.
See benchmarks/README.md for how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import orjson
import psutil
from rich.console import Console
from rich.table import Table

from _logwriter import scratch_postgres
from _model import FEATURES, build, payloads
from _monitoring_inproc import flush_cost, hot_path_cost, memory
from _server import MODEL_NAME
from _wrk import INSTALL_HINT, lua_script, run_wrk, wrk_path, wrk_version
from serving import Server, http, prepare_rampup, sanity_check

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("RAMPUP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
console = Console(width=None if sys.stdout.isatty() else 110)
CONFIGS = {"on": "monitoring on", "off": "monitoring off"}
RATIO_GOAL = 0.9
GROWTH_GOAL_MB = 10.0
FLUSH_GOAL_MS = 100.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=None,
                   help="measured seconds per config and connection count (default 20)")
    p.add_argument("--warmup", type=float, default=None,
                   help="warm-up seconds before each measurement (default 1)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds the duration is split into (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 s measurements, 100,000 predictions for memory")
    p.add_argument("--connections", default="1,16", help="comma-separated (default 1,16)")
    p.add_argument("--no-batching", action="store_true",
                   help="serve with micro-batching off (default on: the highest rate)")
    p.add_argument("--predictions", type=int, default=None,
                   help="predictions fed for the memory part (default 1,000,000)")
    p.add_argument("--no-serving", action="store_true", help="skip the wrk part")
    p.add_argument("--postgres-url", default=PG_URL, help="PostgreSQL for the flush part")
    p.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    p.add_argument("--results", type=Path, default=HERE / "results", help="output folder")
    p.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args(argv)
    defaults = ({"duration": 2.0, "warmup": 1.0, "rounds": 1, "predictions": 100_000}
                if args.quick else
                {"duration": 20.0, "warmup": 1.0, "rounds": 5, "predictions": 1_000_000})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.connections = [int(c) for c in str(args.connections).split(",")]
    return args


def keyed_lua(bodies: list[dict[str, Any]], users: int = 1000) -> str:
    """serving.py's script, with an ``x-request-key`` of one of ``users`` per request."""
    script = lua_script(bodies)
    plain = "  return wrk.format(nil, nil, nil, bodies[i])"
    keyed = (f'  local key = "user" .. math.random(0, {users - 1})\n'
             '  return wrk.format(nil, nil, {["Content-Type"] = "application/json", '
             '["x-request-key"] = key}, bodies[i])')
    assert plain in script
    return script.replace(plain, keyed)


@contextmanager
def environ(**values: str) -> Any:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start(args: argparse.Namespace, env: dict[str, Any], tmp: Path, model_path: Path,
          frame: Any, body: dict[str, Any]) -> dict[str, Server]:
    servers = {}
    for config in CONFIGS:
        project = tmp / f"project-{config}"
        project.mkdir()
        prepare_rampup(project, model_path, frame)
        cmd = ["rampup", "--project-dir", str(project)]
        if not args.no_batching:
            cmd.append("--batching")
        with environ(RAMPUP_MONITOR="true" if config == "on" else "false"):
            servers[config] = Server(config, cmd, env["server_cpu"], env["loop"], env["http"],
                                     tmp / f"server-{config}.log")
    import joblib

    model = joblib.load(model_path)
    for server in servers.values():
        server.wait_ready()
        sanity_check(server, [body], model)  # the answer is the model's own prediction
    return servers


def monitor_cpu_s(server: Server) -> float | None:
    """``rampup_monitor_cpu_seconds_total``: CPU time of the server's monitor thread."""
    _, text = http("GET", server.base + "/metrics")
    for line in text.decode().splitlines():
        if line.startswith("rampup_monitor_cpu_seconds_total"):
            return float(line.split()[-1])
    return None


def measure(server: Server, conns: int, args: argparse.Namespace, env: dict[str, Any],
            seconds: float) -> dict[str, Any]:
    """Warm up, then one timed wrk run; the server's CPU and its monitor thread's CPU."""
    url = f"{server.base}/v1/models/{MODEL_NAME}/predict"
    run_wrk(env["wrk"], url, env["script"], connections=conns, seconds=args.warmup,
            cpu=env["wrk_cpu"])
    proc = psutil.Process(server.proc.pid)
    before, mon_before = proc.cpu_times(), monitor_cpu_s(server)
    r = run_wrk(env["wrk"], url, env["script"], connections=conns, seconds=seconds,
                cpu=env["wrk_cpu"])
    after, mon_after = proc.cpu_times(), monitor_cpu_s(server)
    n = r["requests"] or 1
    cpu_s = (after.user - before.user) + (after.system - before.system)
    r["cpu_ms_per_req"] = cpu_s * 1000 / n
    r["monitor_us_per_req"] = (None if mon_before is None or mon_after is None
                               else (mon_after - mon_before) * 1e6 / n)
    return r


def serve(args: argparse.Namespace, env: dict[str, Any], servers: dict[str, Server]
          ) -> list[dict[str, Any]]:
    """Rounds alternate the order (on, off / off, on) so drifting outside load hits both."""
    seconds = max(1, round(args.duration / args.rounds))
    slots: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for k in range(args.rounds):
        for conns in args.connections:
            order = list(servers) if k % 2 == 0 else list(reversed(servers))
            for config in order:
                console.print(f"  round {k + 1}/{args.rounds}: {CONFIGS[config]}, {conns} "
                              f"conn(s): warm-up {args.warmup:g} s, measure {seconds} s")
                r = measure(servers[config], conns, args, env, seconds)
                slots.setdefault((config, conns), []).append(r)
    rows = []
    for conns in args.connections:
        ratios = [on["req_per_s"] / off["req_per_s"] for on, off in zip(
            slots[("on", conns)], slots[("off", conns)], strict=True) if off["req_per_s"]]
        for config in servers:
            rounds = slots[(config, conns)]
            mon = [r["monitor_us_per_req"] for r in rounds if r["monitor_us_per_req"]]
            rows.append({"config": config, "connections": conns,
                         "req_per_s": median(r["req_per_s"] for r in rounds),
                         "p50_ms": median(r["p50_us"] for r in rounds) / 1000,
                         "p99_ms": median(r["p99_us"] for r in rounds) / 1000,
                         "cpu_ms_per_req": median(r["cpu_ms_per_req"] for r in rounds),
                         "monitor_us_per_req": median(mon) if mon else None,
                         "round_ratio": median(ratios) if ratios else 0.0,
                         "errors": sum(r["errors"] for r in rounds),
                         "requests": sum(r["requests"] for r in rounds), "rounds": rounds})
    return rows


def verify(servers: dict[str, Server]) -> dict[str, Any]:
    """Monitoring really ran on one server and not on the other."""
    out: dict[str, Any] = {}
    for config, server in servers.items():
        status, raw = http("GET", f"{server.base}/v1/models/{MODEL_NAME}/metrics?metric="
                           "requests&metric=repeated_query_rate&metric=latency_p99&since=-1h")
        summary = orjson.loads(raw)["summary"] if status == 200 else {"status": status}
        _, prom = http("GET", server.base + "/metrics")
        dropped = [line for line in prom.decode().splitlines()
                   if line.startswith("rampup_monitor_dropped_total")]
        out[config] = {"summary": summary,
                       "monitor_dropped": float(dropped[0].split()[-1]) if dropped else None}
    return out


def targets(runs: list[dict[str, Any]], mem: dict[str, Any] | None,
            flushes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdicts from the numbers. The throughput ratio is the median over rounds of
    on/off in the same round (back to back, so under the same outside load).

    >>> runs = [{"config": "on", "connections": 1, "round_ratio": 0.95},
    ...         {"config": "off", "connections": 1, "round_ratio": 0.95}]
    >>> [(t["name"], t["measured"], t["passed"]) for t in targets(runs, None, [])]
    [('on/off throughput @ 1 conn', 0.95, True)]
    """
    out = []
    for conns in sorted({r["connections"] for r in runs}):
        on = next(r for r in runs if r["config"] == "on" and r["connections"] == conns)
        ratio = on["round_ratio"]
        out.append({"name": f"on/off throughput @ {conns} conn{'s' if conns > 1 else ''}",
                    "measured": ratio, "goal": f">= {RATIO_GOAL}x",
                    "passed": ratio >= RATIO_GOAL})
    if mem is not None:
        growth = mem["marks"][1]["rss_mb"] - mem["marks"][0]["rss_mb"]
        out.append({"name": f"RSS growth {mem['marks'][0]['predictions']:,} -> "
                            f"{mem['total']:,} predictions", "measured": growth,
                    "goal": f"<= {GROWTH_GOAL_MB:g} MB", "passed": growth <= GROWTH_GOAL_MB})
    for f in flushes:
        if "median_ms" in f:
            out.append({"name": f"one flush (4 windows), {f['backend']}",
                        "measured": f["median_ms"], "goal": f"<= {FLUSH_GOAL_MS:g} ms",
                        "passed": f["median_ms"] <= FLUSH_GOAL_MS})
    return out


def render(runs: list[dict[str, Any]], mem: dict[str, Any] | None,
           flushes: list[dict[str, Any]], hot: dict[str, Any],
           checks: list[dict[str, Any]]) -> None:
    if runs:
        t = Table(title="Serving with monitoring on vs off (wrk, 1 thread, keyed requests)",
                  title_justify="left")
        for col in ("config", "conns", "req/s", "p50 ms", "p99 ms", "errors",
                    "server CPU ms/req", "monitor CPU µs/req", "on/off (rounds)"):
            t.add_column(col, justify="left" if col == "config" else "right")
        for r in runs:
            mon = r["monitor_us_per_req"]
            t.add_row(CONFIGS[r["config"]], str(r["connections"]), f"{r['req_per_s']:,.0f}",
                      f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", str(r["errors"]),
                      f"{r['cpu_ms_per_req']:.2f}", "-" if mon is None else f"{mon:.1f}",
                      f"{r['round_ratio']:.2f}x" if r["config"] == "on" else "")
        console.print(t)
    if mem is not None:
        m = Table(title=f"Memory: predictions through one Monitor ({mem['rate_per_s']:,.0f}/s "
                        "simulated, 60 s windows)", title_justify="left")
        for col in ("predictions", "RSS MB", "windows in memory", "repeat keys",
                    "window JSON KB"):
            m.add_column(col, justify="right")
        for mark in mem["marks"]:
            m.add_row(f"{mark['predictions']:,}", f"{mark['rss_mb']:.1f}",
                      str(mark["windows"]), f"{mark['repeat_keys']:,}",
                      f"{mark['window_json_kb']:.1f}")
        console.print(m)
        console.print(f"  monitor work: {mem['monitor_us_per_record']:.1f} µs per prediction "
                      f"(off the request path); offer() on the request path: "
                      f"{hot['offer_ns']:.0f} ns per request")
    if flushes:
        f = Table(title="One snapshot flush", title_justify="left")
        for col in ("backend", "windows", "median ms", "max ms", "JSON KB"):
            f.add_column(col, justify="left" if col == "backend" else "right")
        for row in flushes:
            if "skipped" in row:
                f.add_row(row["backend"], "-", "-", "-", f"skipped: {row['skipped']}")
            else:
                f.add_row(row["backend"], str(row["windows"]), f"{row['median_ms']:.1f}",
                          f"{row['max_ms']:.1f}", f"{row['json_kb']:.1f}")
        console.print(f)
    c = Table(title="Targets (monitoring issue)", title_justify="left")
    for col in ("target", "measured", "goal", "verdict"):
        c.add_column(col, justify="left" if col == "target" else "right")
    for chk in checks:
        c.add_row(chk["name"], f"{chk['measured']:.2f}", chk["goal"],
                  "[green]PASS[/]" if chk["passed"] else "[red]FAIL[/]")
    console.print(c)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = wrk_path()
    if wrk is None and not args.no_serving:
        console.print(f"[red]{INSTALL_HINT}[/]")
        return 2
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    import importlib.util

    env: dict[str, Any] = {
        "wrk": wrk, "wrk_version": wrk_version(wrk) if wrk else None,
        "server_cpu": cpus[0] if pinned else None, "wrk_cpu": cpus[1] if pinned else None,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loadavg_start": os.getloadavg(), "batching": not args.no_batching,
        "stamp": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")}
    args.results.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    verified: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rampup-monbench-") as tmp_name:
        tmp = Path(tmp_name)
        console.print("fitting the benchmark model (LogisticRegression, 16 features)")
        model_path, frame = build(tmp)
        bodies = payloads(frame)
        if not args.no_serving:
            env["script"] = tmp / "post.lua"
            env["script"].write_text(keyed_lua(bodies))
            console.print("starting two servers: monitoring on and off")
            servers = start(args, env, tmp, model_path, frame, bodies[0])
            try:
                runs = serve(args, env, servers)
                verified = verify(servers)
            finally:
                for server in servers.values():
                    server.stop()
        console.print(f"memory: {args.predictions:,} predictions through one Monitor")
        mem = memory(f"sqlite:///{tmp / 'memory.db'}", frame, FEATURES, bodies,
                     args.predictions)
        hot = hot_path_cost(bodies)
        console.print("flush cost: sqlite, postgresql")
        flushes = [flush_cost(f"sqlite:///{tmp / 'flush.db'}", frame, FEATURES, bodies)]
        if args.no_postgres:
            flushes.append({"backend": "postgresql", "skipped": "--no-postgres"})
        else:
            try:
                with scratch_postgres(args.postgres_url) as url:
                    flushes.append(flush_cost(url, frame, FEATURES, bodies))
            except Exception as exc:  # an unreachable server is reported, not fatal
                flushes.append({"backend": "postgresql",
                                "skipped": f"{type(exc).__name__}: {exc}"[:200]})
    env["loadavg_end"] = os.getloadavg()
    checks = targets(runs, mem, flushes)
    console.print()
    render(runs, mem, flushes, hot, checks)
    for config, v in verified.items():
        console.print(f"{CONFIGS[config]}: metric API says {v['summary']}; "
                      f"monitor dropped {v['monitor_dropped']}")
    console.print("load average before/after: "
                  + " / ".join("/".join(f"{x:.2f}" for x in env[k])
                               for k in ("loadavg_start", "loadavg_end")))
    env["script"] = str(env.get("script"))
    result = {"environment": env, "runs": runs, "verified": verified, "memory": mem,
              "hot_path": hot, "flush": flushes, "targets": checks}
    path = args.results / f"monitoring-{env['stamp']}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    console.print(f"results written to {path}")
    return 1 if args.check and not all(c["passed"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
