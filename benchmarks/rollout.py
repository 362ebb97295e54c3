"""Rollout benchmark: how fast bad candidates are rolled back, and what a shadow costs.

    python benchmarks/rollout.py            # full run, about 4 minutes
    python benchmarks/rollout.py --quick    # smoke run, about 1 minute

One real rampup server (uvicorn, 1 worker, rollout controller every 0.5 s) runs in a
subprocess pinned to one CPU, on a scratch project whose versions all burn the same CPU
per call (benchmarks/_rollout_models.py); the load generator (this process, pinned to the
other CPU) sends a fixed rate of predictions with distinct request keys and feeds the
labels back. Measured:

(a) a candidate failing 20% of requests, (b) a candidate 50 ms slower, each deployed on a
    canary plan (10% → 50% → 100%, at least 100 requests per step, no minimum duration,
    the default checks): time from deploy to rollback, and the share of all requests the
    bad version answered before it;
(c) the primary's client-side p50/p99 with and without a shadow version of equal cost,
    in interleaved rounds against the same server (target: p99 within 10%), for models
    that hold the GIL while they compute (the target) and for models that do not;
(d) the judge under continuous monitoring, simulated (no server; benchmarks/
    _rollout_gates.py): a 10-minute step judged every 2 s with the real judge and,
    beside it, the fixed-level judge of before issue 13 — false-fail rate of an
    identical candidate per check kind (target <= 5% each) and the requests/seconds
    to fail a 20%-error and a +50 ms candidate (target <= 1.5x the fixed judge's).
    Exit status 1 when one of (d)'s targets fails.

    python benchmarks/rollout.py --only d             # (d) alone, a few minutes

A table is printed and everything goes to benchmarks/results/rollout-<stamp>.json.
See benchmarks/README.md for how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console

from _rollout_load import Load, Samples
from _rollout_report import render, summarize_canary, summarize_shadow
from _server import MODEL_NAME

HERE = Path(__file__).resolve().parent
MODELS = HERE / "_rollout_models.py"
TERMINAL = ("promoted", "rolled_back", "aborted")
CONTROLLER_INTERVAL_S = 0.5
#: kind -> (primary, shadow): "cpu" versions burn CPU holding the GIL; "gil-free" ones wait.
SHADOW_PAIRS = {"cpu": ("v1", "twin"), "gil-free": ("waits", "waits-twin")}
console = Console(width=None if sys.stdout.isatty() else 120)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 run per bad candidate, 2 shadow rounds of 3 s")
    p.add_argument("--rate", type=float, default=200.0, help="requests per second (200)")
    p.add_argument("--model-ms", type=float, default=1.0,
                   help="CPU ms each version burns per call (1.0)")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs per bad candidate (default 3; --quick 1)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved shadow rounds (default 16; --quick 2)")
    p.add_argument("--seconds", type=float, default=None,
                   help="measured seconds per shadow phase and round (default 3; --quick 3)")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per phase")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="give up on a canary run after this many seconds")
    p.add_argument("--only", default="a,b,c,d", help="which parts to run (a,b,c,d)")
    p.add_argument("--gate-runs", type=int, default=None,
                   help="(d) simulated steps per check kind (default 100; --quick 10)")
    p.add_argument("--gate-bad-runs", type=int, default=None,
                   help="(d) simulated steps per bad candidate (default 30; --quick 5)")
    p.add_argument("--gate-rate", type=float, default=50.0,
                   help="(d) simulated requests per second (50, the demo's rate)")
    p.add_argument("--gate-canary", type=float, default=10.0,
                   help="(d) the candidate's share of them, in %% (10, a first canary "
                        "step)")
    p.add_argument("--results", type=Path, default=HERE / "results", help="output folder")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when the p99 target fails (not when inconclusive) or a bad "
                        "candidate is not rolled back")
    args = p.parse_args(argv)
    quick = {"repeats": 1, "rounds": 2, "seconds": 3.0, "gate_runs": 10, "gate_bad_runs": 5}
    full = {"repeats": 3, "rounds": 16, "seconds": 3.0, "gate_runs": 100,
            "gate_bad_runs": 30}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = {s.strip() for s in str(args.only).split(",")}
    return args


# -- the server ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare_project(project: Path) -> None:
    """v1 live; the others registered (python flavor: one file, one object each)."""
    from rampup.config import Settings
    from rampup.registry.registry import Registry
    from rampup.store import Database

    settings = Settings(project_dir=project)
    store = Database.open(settings.resolved_database_url)
    try:
        registry = Registry.from_settings(settings, store)
        registry.register(MODEL_NAME, f"{MODELS}:Healthy", version="v1", actor="bench")
        for version, cls in (("flaky", "Flaky"), ("slow", "Slow"), ("twin", "Twin"),
                             ("waits", "Waits"), ("waits-twin", "WaitsTwin")):
            registry.register(MODEL_NAME, f"{MODELS}:{cls}", version=version, deploy=False,
                              actor="bench")
    finally:
        store.close()


class Server:
    """``benchmarks/_server.py rampup`` (the app as ``rampup serve`` builds it, batching
    off) with the controller on a short interval, pinned to one CPU."""

    def __init__(self, project: Path, cpu: int | None, token: str, model_ms: float,
                 log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")}
        env.update(RAMPUP_CONTROLLER_INTERVAL=str(CONTROLLER_INTERVAL_S),
                   RAMPUP_ADMIN_TOKEN=token, RAMPUP_BENCH_MODEL_MS=str(model_ms))
        cmd = [sys.executable, str(HERE / "_server.py"), "rampup", "--project-dir",
               str(project), "--port", str(self.port)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.log = log
        with log.open("wb") as out:  # a file: a full pipe would stall the server
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.output()}")
            try:
                if httpx.get(self.base + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready after {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# -- the measurements ---------------------------------------------------------------------

class OutsideLoad:
    """How busy a CPU was with other processes (this machine may be shared): the CPU's
    busy time minus the CPU time of the process pinned to it, over the wall time."""

    def __init__(self, proc: psutil.Process, cpu: int | None) -> None:
        self.proc, self.cpu = proc, cpu
        self._start = self._now()

    def _now(self) -> tuple[float, float, float]:
        busy = 0.0
        if self.cpu is not None:
            t = psutil.cpu_times(percpu=True)[self.cpu]
            busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        own = self.proc.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def share(self) -> float | None:
        """Since creation: the share of the CPU other processes used."""
        if self.cpu is None:
            return None
        t1, busy1, own1 = self._now()
        t0, busy0, own0 = self._start
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / max(1e-9, t1 - t0)


class Bench:
    def __init__(self, args: argparse.Namespace, server: Server, token: str,
                 cpu: int | None, client_cpu: int | None) -> None:
        self.args, self.server = args, server
        self.admin = httpx.AsyncClient(base_url=server.base, trust_env=False, timeout=30.0,
                                       headers={"authorization": f"Bearer {token}"})
        self.proc = psutil.Process(server.proc.pid)
        self.cpu: int | None = cpu
        self.me = psutil.Process()
        self.client_cpu: int | None = client_cpu
        self.seed = 0
        self.prefix = f"/v1/admin/models/{MODEL_NAME}"

    def load(self) -> Load:
        self.seed += 1
        return Load(self.server.base, MODEL_NAME, rate=self.args.rate, seed=self.seed)

    async def set_policy(self, routes: dict[str, float], mirrors: dict[str, float],
                         reason: str) -> None:
        r = await self.admin.put(f"{self.prefix}/deployment", json={
            "routes": routes, "mirrors": mirrors, "reason": reason})
        r.raise_for_status()

    async def status(self) -> dict[str, Any]:
        r = await self.admin.get(f"{self.prefix}/rollout")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def canary(self, candidate: str, run: int) -> dict[str, Any]:
        """Deploy ``candidate`` under load; wait for the controller to decide."""
        a = self.args
        await self.set_policy({"v1": 100.0}, {}, "benchmark: baseline")
        load, stop = self.load(), asyncio.Event()
        traffic = asyncio.create_task(load.run(a.timeout + a.warmup + 10, stop))
        await asyncio.sleep(a.warmup)
        outside = OutsideLoad(self.proc, self.cpu)
        plan = {"steps": [{"canary": w, "min_requests": 100, "min_duration_s": 0}
                          for w in (10, 50, 100)]}
        t_deploy = time.monotonic()
        r = await self.admin.post(f"{self.prefix}/deploy", json={
            "version": candidate, "strategy": "canary", "plan": plan,
            "reason": f"benchmark run {run}"})
        r.raise_for_status()
        t_live = time.monotonic()
        st = await self.status()
        while time.monotonic() - t_deploy < a.timeout:
            if st["rollout"]["state"] in TERMINAL:
                break
            await asyncio.sleep(0.1)
            st = await self.status()
        t_seen = time.monotonic()
        other = outside.share()
        await asyncio.sleep(1.0)  # traffic after the rollback: the bad version must be gone
        stop.set()
        samples = await traffic
        ro = st["rollout"]
        if ro["state"] not in TERMINAL:
            await self.admin.post(f"{self.prefix}/rollout/abort",
                                  json={"reason": "benchmark timeout"})
        result = self._canary_result(candidate, ro, st, samples, t_deploy, t_live, t_seen,
                                     load)
        result["outside_load"] = other
        return result

    def _canary_result(self, candidate: str, ro: dict[str, Any], st: dict[str, Any],
                       samples: Samples, t_deploy: float, t_live: float, t_seen: float,
                       load: Load) -> dict[str, Any]:
        rolled_back = ro["state"] == "rolled_back"
        last_bad = samples.last_sent(candidate)
        end = last_bad if last_bad is not None else t_seen
        window = samples.between(t_deploy, end)
        after = samples.between(t_seen + CONTROLLER_INTERVAL_S, float("inf"))
        failing = next((c for c in st.get("checks", []) if c["verdict"] == "fail"), None)
        checks = [x for x in (failing or {}).get("results", []) if x["verdict"] == "fail"]
        return {
            "candidate": candidate, "state": ro["state"], "reason": ro["reason"],
            "decision_s": ro["updated_at"] - ro["created_at"] if rolled_back else None,
            "seen_s": t_seen - t_deploy, "deploy_call_s": t_live - t_deploy,
            "last_bad_s": None if last_bad is None else last_bad - t_deploy,
            "bad": window.count(candidate), "total": window.count(),
            "served_per_s": window.count() / (end - t_deploy) if end > t_deploy else None,
            "failed": window.failed(candidate), "bad_after_rollback": after.count(candidate),
            "failed_checks": checks, "by_version": window.by_version(),
            "load": vars(load.stats),
        }

    async def shadow(self) -> dict[str, Any]:
        """Interleaved rounds: each pair without and with its shadow of equal cost (the
        order reverses every round, so slow drifts of the machine hit both alike)."""
        a = self.args
        phases = [(kind, phase) for kind in SHADOW_PAIRS for phase in ("off", "on")]
        rounds: list[dict[tuple[str, str], dict[str, Any]]] = []
        for k in range(a.rounds):
            measured: dict[tuple[str, str], dict[str, Any]] = {}
            for kind, phase in phases if k % 2 == 0 else phases[::-1]:
                primary, twin = SHADOW_PAIRS[kind]
                mirrors = {twin: 100.0} if phase == "on" else {}
                await self.set_policy({primary: 100.0}, mirrors, f"benchmark: {kind} {phase}")
                load = self.load()
                await load.run(a.warmup)
                outside = OutsideLoad(self.proc, self.cpu)
                outside_client = OutsideLoad(self.me, self.client_cpu)
                before = self.proc.cpu_times()
                samples = await load.run(a.seconds)
                after = self.proc.cpu_times()
                ok = samples.ok()
                measured[kind, phase] = {
                    "ms": ok.ms, "p99_ms": ok.quantile(0.99), "requests": samples.count(),
                    "errors": samples.count() - ok.count(), "missed": load.stats.missed,
                    "cpu_s": (after.user - before.user) + (after.system - before.system),
                    "outside_load": outside.share(),
                    "outside_load_client": outside_client.share()}
                m = measured[kind, phase]
                other = "/".join("-" if x is None else f"{x:.0%}"
                                 for x in (m["outside_load"], m["outside_load_client"]))
                console.print(f"  round {k + 1}/{a.rounds}: {kind} model, shadow {phase}: "
                              f"p99 {m['p99_ms']:.1f} ms; other processes on the server/"
                              f"client CPU {other}", highlight=False)
            rounds.append(measured)
        await self.set_policy({"v1": 100.0}, {}, "benchmark: done")
        out: dict[str, Any] = {kind: summarize_shadow(
            [{phase: r[kind, phase] for phase in ("off", "on")} for r in rounds])
            for kind in SHADOW_PAIRS}
        out["shadow_outcomes"] = await self.shadow_outcomes()
        return out

    async def shadow_outcomes(self) -> dict[str, float]:
        text = (await self.admin.get("/metrics")).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("rampup_shadow_requests_total{"):
                labels, value = line.rsplit(" ", 1)
                outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
                out[outcome] = out.get(outcome, 0.0) + float(value)
        return out


async def run_all(args: argparse.Namespace, server: Server, token: str,
                  cpu: int | None, client_cpu: int | None) -> dict[str, Any]:
    bench = Bench(args, server, token, cpu, client_cpu)
    results: dict[str, Any] = {"canary": {}, "shadow": None}
    try:
        for part, candidate in (("a", "flaky"), ("b", "slow")):
            if part not in args.only:
                continue
            runs = []
            for i in range(args.repeats):
                console.print(f"({part}) {candidate}: canary run {i + 1}/{args.repeats}")
                r = await bench.canary(candidate, i + 1)
                shown = "-" if r["decision_s"] is None else f"{r['decision_s']:.1f} s"
                console.print(f"    {r['state']} after {shown}: {r['bad']} of {r['total']} "
                              f"requests answered by {candidate}; {r['reason'][:120]}")
                runs.append(r)
            failed = [c["check"] for r in runs for c in r["failed_checks"]]
            results["canary"][candidate] = {
                "runs": runs, "summary": summarize_canary(runs),
                "failed_check": max(set(failed), key=failed.count) if failed else "-"}
        if "c" in args.only:
            console.print("(c) shadow of equal cost: interleaved rounds")
            results["shadow"] = await bench.shadow()
    finally:
        await bench.admin.aclose()
    return results


def environment(args: argparse.Namespace) -> dict[str, Any]:
    import rampup

    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    return {"server_cpu": cpus[0] if pinned else None, "client_cpu": cpus[1] if pinned else None,
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "rampup": rampup.__version__,
            "httpx": httpx.__version__, "rate": args.rate, "model_ms": args.model_ms,
            "repeats": args.repeats, "rounds": args.rounds, "seconds": args.seconds,
            "warmup": args.warmup, "controller_interval_s": CONTROLLER_INTERVAL_S,
            "loadavg_start": os.getloadavg(),
            "stamp": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")}


def gates(args: argparse.Namespace) -> dict[str, Any]:
    import _rollout_gates

    console.print(f"(d) the judge under continuous monitoring: {args.gate_runs} simulated "
                  f"10-minute steps per check kind, both judges")
    return _rollout_gates.run(args.gate_runs, args.gate_bad_runs, args.gate_rate,
                              args.gate_canary,
                              progress=lambda m: console.print(f"    {m}", highlight=False))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment(args)
    args.results.mkdir(parents=True, exist_ok=True)
    gate_results = gates(args) if "d" in args.only else None
    if not args.only & {"a", "b", "c"}:
        return finish_gates(args, env, gate_results)
    console.print(f"[bold]rampup rollout benchmark[/] — server on CPU {env['server_cpu']}, "
                  f"load generator on CPU {env['client_cpu']}, {args.rate:g} req/s, models "
                  f"burn {args.model_ms:g} ms CPU per call")
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="rampup-rollout-bench-") as tmp_name:
        project = Path(tmp_name)
        console.print("registering v1 (live), flaky, slow, twin, waits and waits-twin")
        prepare_project(project)
        server = Server(project, env["server_cpu"], token, args.model_ms,
                        project / "server.log")
        try:
            server.wait_ready()
            if env["client_cpu"] is not None:
                os.sched_setaffinity(0, {env["client_cpu"]})
            results = asyncio.run(run_all(args, server, token, env["server_cpu"],
                                          env["client_cpu"]))
        finally:
            server.stop()
        if server.proc.returncode not in (0, -signal.SIGINT):
            console.print(f"[yellow]server exited with {server.proc.returncode}:[/]\n"
                          f"{server.output()[-2000:]}")
    env["loadavg_end"] = os.getloadavg()
    console.print()
    render(console, results["canary"], results["shadow"], args.rate)
    load = max(env["loadavg_start"][0], env["loadavg_end"][0])
    console.print(f"load average before/after: {env['loadavg_start'][0]:.2f} / "
                  f"{env['loadavg_end'][0]:.2f} on {env['cpu_count']} CPUs"
                  + (" [yellow](other work was running: expect noise)[/]" if load > 0.5
                     else ""))
    results["gates"] = gate_results
    if gate_results is not None:
        import _rollout_gates

        _rollout_gates.render(console, gate_results)
    path = args.results / f"rollout-{env['stamp']}.json"
    path.write_text(json.dumps({"environment": env, **results}, indent=2, default=str))
    console.print(f"results written to {path}")
    shadow = results["shadow"]
    bad = any(c["summary"]["not_rolled_back"] for c in results["canary"].values())
    failed = bad or (shadow is not None and shadow["cpu"]["target"]["passed"] is False)
    if gate_results is not None and _gate_failures(gate_results):
        return 1
    return 1 if args.check and failed else 0


def _gate_failures(res: dict[str, Any]) -> list[str]:
    import _rollout_gates

    failed = _rollout_gates.failed_targets(res)
    if failed:
        console.print(f"[red]target failed:[/] {', '.join(failed)}")
    return failed


def finish_gates(args: argparse.Namespace, env: dict[str, Any],
                 res: dict[str, Any] | None) -> int:
    """Part (d) alone: its tables, the load average, its JSON, its exit status."""
    import _rollout_gates

    assert res is not None
    env["loadavg_end"] = os.getloadavg()
    console.print()
    _rollout_gates.render(console, res)
    console.print(f"load average before/after: {env['loadavg_start'][0]:.2f} / "
                  f"{env['loadavg_end'][0]:.2f} on {env['cpu_count']} CPUs (simulation: "
                  f"load slows it down, it does not change its numbers)", highlight=False)
    path = args.results / f"rollout-gates-{env['stamp']}.json"
    path.write_text(json.dumps({"environment": env, "gates": res}, indent=2, default=str))
    console.print(f"results written to {path}")
    return 1 if _gate_failures(res) else 0


if __name__ == "__main__":
    sys.exit(main())
