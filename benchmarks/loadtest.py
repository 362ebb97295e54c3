"""Load generator benchmark: is ``rampup loadtest`` honest, and how fast can it send?

    python benchmarks/loadtest.py            # full run (~3 min)
    python benchmarks/loadtest.py --quick    # smoke run (~1 min)

Three parts, servers pinned to CPU 0, generators unpinned (``--pin-generator``: CPU 1):

1. **Client**: closed loop, 64 requests in flight against a null server
   (``_nullserver.py``): ``httpx.AsyncClient`` against the generator's own HTTP/1.1
   client (``rampup.loadtest.client.Pool``). Ratio = ours / httpx.
2. **Generator limit**: open loop against the null server at rising offered rates, one
   process, then two processes (sharing the machine with the server). Reports
   the achieved rate, send lag and whether the generator judged itself short; the
   single-process limit is the highest rate it reached without falling short.
3. **Agreement**: ``rampup serve`` of the serving benchmark's model (micro-batching off)
   at offered rates below saturation, each measured by ``rampup loadtest`` and by the
   open-loop reference (``wrk`` held to a fixed schedule by a Lua script,
   ``_openloop.py``), in interleaved rounds. Target: the p50s agree within 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from _model import build, payloads
from _openloop import lua_script, parse
from _server import MODEL_NAME
from _wrk import INSTALL_HINT, wrk_path, wrk_version
from serving import Server, free_port, prepare_rampup

HERE = Path(__file__).resolve().parent
console = Console(width=None if sys.stdout.isatty() else 120)
SERVER_CPU = 0
# Generators are not pinned by default: on a shared machine, whatever else runs pinned to
# the generator's CPU starves a Python generator (measured here: 1,000 req/s pinned to
# CPU 1 had a 2.4 ms median send lag, unpinned 0.02 ms; p50 against rampup serve 1.9x
# the reference pinned, 1.06x unpinned). wrk does a tenth of the work per request and
# hardly notices. --pin-generator pins both generators (and wrk) to CPU 1 anyway.
GEN_CPUS: set[int] = set(range(os.cpu_count() or 2))
AGREEMENT = 0.10

_RUN = """
import json, os, sys
os.sched_setaffinity(0, set(json.loads(sys.argv[1])))
from rampup import load_test
args = json.loads(sys.argv[2])
bodies = [b.encode() for b in args.pop("bodies")]
report = load_test(args.pop("url"), bodies, args.pop("rate"), args.pop("duration"), **args)
print(json.dumps(report.to_json()))
"""


def generator(url: str, bodies: list[bytes], rate: float, duration: float, *,
              cpus: set[int], processes: int = 1, connections: int = 256) -> dict[str, Any]:
    """One ``load_test`` run in a fresh process (pinned to ``cpus``); its JSON report."""
    args = {"url": url, "bodies": [b.decode() for b in bodies], "rate": rate,
            "duration": duration, "processes": processes, "connections": connections}
    out = subprocess.run([sys.executable, "-c", _RUN, json.dumps(sorted(cpus)),
                          json.dumps(args)], capture_output=True, text=True, check=False,
                         timeout=duration * 3 + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load_test failed: {out.stderr[-2000:]}")
    doc: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return doc


def reference(wrk: str, url: str, script: Path, rate: float, duration: float) -> dict[str, Any]:
    conns = max(64, int(rate * 0.25))  # 250 ms of arrivals: no request waits for a connection

    def pin() -> None:
        os.sched_setaffinity(0, GEN_CPUS)

    cmd = [wrk, "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=pin,
                         timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    r = parse(out.stdout)
    r["connections"] = conns
    return r


# -- 1. client -------------------------------------------------------------------------

async def _closed_loop(kind: str, url: str, body: bytes, seconds: float, n: int) -> float:
    import httpx

    from rampup.loadtest.client import Pool, Target

    stop = time.perf_counter() + seconds
    done = 0
    if kind == "httpx":
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n)) as client:
            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    r = await client.post(url, content=body,
                                          headers={"content-type": "application/json"})
                    r.raise_for_status()
                    done += 1
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(n)))
    else:
        target = Target.parse(url)
        pool = Pool(target, n)
        request = target.request(body)

        async def raw() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                if await pool.post(request) != 200:
                    raise RuntimeError("not 200")
                done += 1
        start = time.perf_counter()
        await asyncio.gather(*(raw() for _ in range(n)))
        pool.close()
    return done / (time.perf_counter() - start)


def client_rates(url: str, body: bytes, seconds: float) -> dict[str, float]:
    import uvloop

    os.sched_setaffinity(0, GEN_CPUS)
    try:
        return {f"{kind}@{n}": uvloop.run(_closed_loop(kind, url, body, seconds, n))
                for n in (8, 64) for kind in ("httpx", "rampup")}
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


# -- the run ---------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: short measurements")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per agreement rate, split over the rounds (default 20; "
                        "quick 4)")
    p.add_argument("--rates", default="0.1,0.3",
                   help="agreement: offered rates as shares of the server's measured capacity "
                        "(closed-loop wrk, 16 connections), or req/s when above 1 "
                        "(default 0.1,0.3)")
    p.add_argument("--limit-rates", default="1000,2000,4000,6000,8000,12000",
                   help="generator limit: offered req/s to try")
    p.add_argument("--rounds", type=int, default=4, help="interleaved agreement rounds")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--pin-generator", action="store_true",
                   help="pin the generators (and wrk) to CPU 1 (default: unpinned)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pin_generator:
        GEN_CPUS.clear()
        GEN_CPUS.add(1)
    wrk = wrk_path()
    if wrk is None:
        console.print(INSTALL_HINT)
        return 2
    if (os.cpu_count() or 1) < 2:
        console.print("needs 2 CPUs: one for the server, one for the generator")
        return 2
    duration = args.duration or (4.0 if args.quick else 20.0)
    limit_s = 2.0 if args.quick else 4.0
    results: dict[str, Any] = {"machine": platform.platform(), "python": sys.version.split()[0],
                               "wrk": wrk_version(wrk), "cpus": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="rampup-loadtest-bench-"))
    model_path, frame = build(tmp)
    rows = payloads(frame, 256)
    bodies = [orjson.dumps(r) for r in rows]

    # 1 + 2: the null server
    port = free_port()
    null = subprocess.Popen([sys.executable, str(HERE / "_nullserver.py"), "--port", str(port),
                             "--cpu", str(SERVER_CPU)])
    null_url = f"http://127.0.0.1:{port}/v1/models/null/predict"
    try:
        _wait_port(port)
        console.print("[bold]1. client[/] closed loop, 8 and 64 in flight, null server")
        rates = client_rates(null_url, bodies[0], 2.0 if args.quick else 5.0)
        results["client_req_per_s"] = rates
        for n in (8, 64):
            console.print(f"  {n} in flight: httpx.AsyncClient {rates[f'httpx@{n}']:,.0f} "
                          f"req/s, rampup's client {rates[f'rampup@{n}']:,.0f} req/s: "
                          f"{rates[f'rampup@{n}'] / rates[f'httpx@{n}']:.1f}x")
        console.print("[bold]2. generator limit[/] open loop against the null server")
        results["limit"] = limit_rows(null_url, bodies, args, limit_s)
    finally:
        null.terminate()
        null.wait(30)

    # 3: agreement with the open-loop reference: rampup serve, and the bare endpoint
    project = tmp / "project"
    project.mkdir()
    prepare_rampup(project, model_path, frame)
    results["agreement"] = []
    for name, spec, path in (
            ("rampup", ["rampup", "--project-dir", str(project)],
             f"/v1/models/{MODEL_NAME}/predict"),
            ("bare", ["bare", "--model", str(model_path)], "/predict")):
        server = Server("b" if name == "rampup" else "a", spec, SERVER_CPU, "auto", "auto",
                        tmp / f"server-{name}.log")
        url = server.base + path
        try:
            server.wait_ready()
            capacity = saturation(wrk, url, rows, tmp)
            results[f"capacity_{name}_req_per_s"] = capacity
            rates = [float(r) * (capacity if float(r) <= 1 else 1)
                     for r in args.rates.split(",")]
            console.print(f"[bold]3. agreement[/] on {name}: capacity (closed loop, 16 "
                          f"connections) {capacity:,.0f} req/s; offered "
                          f"{', '.join(f'{r:,.0f}' for r in rates)} req/s, {duration:g} s "
                          f"each over {args.rounds} rounds")
            generator(url, bodies, rates[0], 2.0, cpus=GEN_CPUS)  # warm-up
            results["agreement"] += agreement_rows(name, wrk, url, rows, bodies, rates,
                                                   args.rounds, duration, tmp)
        finally:
            server.stop()
    render(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    ok = all(r["agrees"] for r in results["agreement"] if r["reference_valid"])
    return 0 if ok else 1


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def limit_rows(url: str, bodies: list[bytes], args: argparse.Namespace,
               seconds: float) -> list[dict[str, Any]]:
    out = []
    for processes in (1, 2):
        cpus = GEN_CPUS
        for rate in [float(r) for r in args.limit_rates.split(",")]:
            doc = generator(url, bodies, rate, seconds, cpus=cpus, processes=processes)
            row = {"processes": processes, "offered": rate, "achieved": doc["achieved_rps"],
                   "lag_p50_ms": doc["send_lag_ms"]["p50"],
                   "lag_p99_ms": doc["send_lag_ms"]["p99"],
                   "p50_ms": doc["latency_ms"]["p50"], "p99_ms": doc["latency_ms"]["p99"],
                   "short": doc["generator"]["shortfall"], "errors": doc["error_rate"]}
            out.append(row)
            console.print(f"  {processes} process(es) {rate:>8,.0f} offered: achieved "
                          f"{row['achieved']:>8,.0f}, send lag p99 {row['lag_p99_ms']:.1f} ms"
                          f"{'  [yellow]SHORT[/]' if row['short'] else ''}")
            if row["short"]:
                break
    return out


def saturation(wrk: str, url: str, rows: list[dict[str, Any]], tmp: Path) -> float:
    """The server's closed-loop throughput with wrk at 16 connections (3 s)."""
    from _wrk import lua_script as closed_script
    from _wrk import run_wrk

    script = tmp / "closed.lua"
    script.write_text(closed_script(rows))
    cpu = min(GEN_CPUS) if len(GEN_CPUS) == 1 else None
    run_wrk(wrk, url, script, connections=16, seconds=1, cpu=cpu)
    return float(run_wrk(wrk, url, script, connections=16, seconds=3, cpu=cpu)["req_per_s"])


def agreement_rows(server: str, wrk: str, url: str, rows: list[dict[str, Any]],
                   bodies: list[bytes], rates: list[float], rounds: int, duration: float,
                   tmp: Path) -> list[dict[str, Any]]:
    per_rate: dict[float, dict[str, list[dict[str, Any]]]] = {}
    seconds = duration / rounds
    for k in range(rounds):
        for rate in rates:
            script = tmp / f"openloop-{rate:g}.lua"
            script.write_text(lua_script(rows, rate))
            slot = per_rate.setdefault(rate, {"ours": [], "ref": []})
            slot["ref"].append(reference(wrk, url, script, rate, seconds))
            slot["ours"].append(generator(url, bodies, rate, seconds, cpus=GEN_CPUS))
            console.print(f"  round {k + 1}: {rate:,.0f} req/s: reference p50 "
                          f"{slot['ref'][-1]['p50_ms']:.2f} ms (late "
                          f"{slot['ref'][-1]['late_share']:.1%}), loadtest p50 "
                          f"{slot['ours'][-1]['latency_ms']['p50']:.2f} ms")
    out = []
    for rate, slot in per_rate.items():
        ref_p50 = median(r["p50_ms"] for r in slot["ref"])
        ours_p50 = median(r["latency_ms"]["p50"] for r in slot["ours"])
        late = max(r["late_share"] for r in slot["ref"])
        out.append({"server": server, "offered": rate, "reference_p50_ms": ref_p50,
                    "loadtest_p50_ms": ours_p50,
                    "loadtest_p50_from_send_ms": median(r["latency_from_send_ms"]["p50"]
                                                        for r in slot["ours"]),
                    "reference_p99_ms": median(r["p99_ms"] for r in slot["ref"]),
                    "loadtest_p99_ms": median(r["latency_ms"]["p99"] for r in slot["ours"]),
                    "reference_rps": median(r["req_per_s"] for r in slot["ref"]),
                    "loadtest_rps": median(r["achieved_rps"] for r in slot["ours"]),
                    "loadtest_lag_p50_ms": median(r["send_lag_ms"]["p50"]
                                                  for r in slot["ours"]),
                    "reference_late_share": late, "reference_valid": late <= 0.01,
                    "ratio": ours_p50 / ref_p50,
                    "agrees": abs(ours_p50 / ref_p50 - 1) <= AGREEMENT})
    return out


def render(results: dict[str, Any]) -> None:
    console.print(f"\n[bold]results[/] ({results['machine']}, Python {results['python']}, "
                  f"{results['wrk']})")
    rates = results["client_req_per_s"]
    for n in (8, 64):
        ratio = rates[f"rampup@{n}"] / rates[f"httpx@{n}"]
        console.print(f"client, closed loop, {n} in flight: rampup {rates[f'rampup@{n}']:,.0f} "
                      f"req/s vs httpx {rates[f'httpx@{n}']:,.0f} req/s = [bold]{ratio:.1f}x[/]")
    lim = Table(title="generator limit (null server on CPU 0)", title_justify="left")
    for col in ("processes", "offered", "achieved", "send lag p50 ms", "send lag p99 ms",
                "p50 ms", "p99 ms", "fell short"):
        lim.add_column(col, justify="right")
    for r in results["limit"]:
        lim.add_row(str(r["processes"]), f"{r['offered']:,.0f}", f"{r['achieved']:,.0f}",
                    f"{r['lag_p50_ms']:.2f}", f"{r['lag_p99_ms']:.1f}", f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    "yes" if r["short"] else "no")
    console.print(lim)
    single = [r["offered"] for r in results["limit"] if r["processes"] == 1 and not r["short"]]
    where = "on CPU 1" if len(GEN_CPUS) == 1 else "unpinned"
    console.print(f"single-process limit (generator {where}): "
                  f"[bold]{max(single) if single else 0:,.0f} req/s[/] offered without "
                  "falling short")
    agr = Table(title="p50 agreement with the open-loop reference (server on CPU 0)",
                title_justify="left")
    for col in ("server", "offered", "ref p50 ms", "loadtest p50 ms", "ratio",
                "p50 from send", "ref p99 ms", "loadtest p99 ms", "ref late", "verdict"):
        agr.add_column(col, justify="right")
    for r in results["agreement"]:
        verdict = ("ok" if r["agrees"] else "[red]off[/]") if r["reference_valid"] else \
            "[yellow]reference not open-loop[/]"
        agr.add_row(r["server"], f"{r['offered']:,.0f}", f"{r['reference_p50_ms']:.2f}",
                    f"{r['loadtest_p50_ms']:.2f}", f"{r['ratio']:.2f}",
                    f"{r['loadtest_p50_from_send_ms']:.2f}",
                    f"{r['reference_p99_ms']:.2f}", f"{r['loadtest_p99_ms']:.2f}",
                    f"{r['reference_late_share']:.1%}", verdict)
    console.print(agr)


if __name__ == "__main__":
    sys.exit(main())
