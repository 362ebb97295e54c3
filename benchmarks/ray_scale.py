"""Ray as the engine for scale (issue 22): batch rows/s and serving req/s, local vs Ray.

    python benchmarks/ray_scale.py            # 200 000 rows, 10 s of wrk per server
    python benchmarks/ray_scale.py --quick    # a smoke run: 20 000 rows, 3 s per server

One project (``rampup init --example``: the loan-default scikit-learn model), one SQLite
store, measured in the same run:

- **batch**: ``predict_batch`` on one Parquet file with the local engine (one process,
  the baseline) against ``--engine ray`` with 2 workers — once cold (the run starts its
  own local Ray: what a command-line run pays) and once warm (Ray already up: what a
  long-lived cluster pays). Every prediction is logged, as by default.
- **serving**: ``rampup serve --workers 2`` (the baseline) against ``rampup serve
  --engine ray`` with 1 and 2 Ray Serve replicas, each driven by ``wrk`` (one thread,
  POST /v1/models/loan-default/predict, 16 connections).

No targets: on a 2-CPU machine Ray's own processes (GCS, raylet, Serve's controller and
proxy, Ray Data's executor) compete with the workers for the same two cores, so this
shows the overhead Ray adds, not the scale it gives; see README "Running at scale".
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wrk import lua_script, run_wrk, wrk_path

MODEL = "loan-default"


def project(root: Path) -> Path:
    proj = root / "proj"
    subprocess.run([sys.executable, "-m", "rampup", "init", str(proj), "--example"],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "example/train.py"], cwd=proj, check=True,
                   capture_output=True)
    return proj


def batch_file(proj: Path, rows: int) -> Path:
    ref = pd.read_parquet(proj / "example" / "reference.parquet")
    ref = ref.drop(columns=[c for c in ("defaulted",) if c in ref.columns])
    frame = ref.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    path = proj / "batch.parquet"
    frame.to_parquet(path, index=False, row_group_size=10_000)
    return path


def batch(proj: Path, path: Path) -> list[dict[str, Any]]:
    from rampup.batch import predict_batch
    from rampup.batch.ray_engine import predict_batch_ray
    from rampup.config import load_settings
    from rampup.registry.registry import Registry
    from rampup.runtime.ray_cluster import ray_session
    from rampup.store import Database

    settings, project_file = load_settings(proj)
    store = Database.open(settings.resolved_database_url)
    registry = Registry.from_settings(settings, store, project_file)
    registry.sync_project(project_file, settings.project_dir)
    out = []
    s = predict_batch(store, registry, MODEL, path, proj / "local.parquet")
    out.append({"engine": "local, 1 process (baseline)", "rows": s.rows, "seconds": s.seconds})
    s = predict_batch_ray(settings, store, registry, MODEL, path, proj / "ray.parquet",
                          workers=2)
    out.append({"engine": "ray, 2 workers, cold (starts Ray)", "rows": s.rows,
                "seconds": s.seconds})
    with ray_session(None, 2):
        predict_batch_ray(settings, store, registry, MODEL, path, proj / "warmup.parquet",
                          workers=2)
        s = predict_batch_ray(settings, store, registry, MODEL, path, proj / "ray.parquet",
                              workers=2)
    out.append({"engine": "ray, 2 workers, warm", "rows": s.rows, "seconds": s.seconds})
    store.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(proj: Path, args: list[str], script: Path, seconds: float,
          connections: int) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "rampup", "-p", str(proj), "serve",
                             "--port", str(port), "--log-level", "warning", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rampup serve {' '.join(args)} exited")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.5)
        wrk = wrk_path()
        assert wrk is not None
        run_wrk(wrk, f"{url}/v1/models/{MODEL}/predict", script, connections=connections,
                seconds=2, cpu=None)  # warm-up
        return run_wrk(wrk, f"{url}/v1/models/{MODEL}/predict", script,
                       connections=connections, seconds=seconds, cpu=None)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()


def set_replicas(proj: Path, replicas: int) -> None:
    path = proj / "rampup.yaml"
    text = path.read_text().split("\nray:\n")[0].rstrip("\n")
    path.write_text(text + f"\nray:\n  replicas: {replicas}\n  num_cpus: 1\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 200_000)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    console = Console()
    if wrk_path() is None:
        console.print("wrk is not installed: apt-get install wrk")
        return 2
    with tempfile.TemporaryDirectory(prefix="rampup-ray-bench-") as d:
        proj = project(Path(d))
        console.print(f"batch: {rows:,} rows, {os.cpu_count()} CPUs, "
                      f"load {os.getloadavg()[0]:.2f}")
        results = batch(proj, batch_file(proj, rows))
        table = Table(title="predict-batch (every row logged, SQLite)", title_justify="left")
        for col in ("engine", "rows/s", "seconds", "vs local"):
            table.add_column(col, justify="left" if col == "engine" else "right")
        base = results[0]["rows"] / results[0]["seconds"]
        for r in results:
            rate = r["rows"] / r["seconds"]
            table.add_row(r["engine"], f"{rate:,.0f}", f"{r['seconds']:.1f}",
                          f"{rate / base:.2f}x")
        console.print(table)

        ref = pd.read_parquet(proj / "example" / "reference.parquet").head(200)
        ref = ref.drop(columns=[c for c in ("defaulted",) if c in ref.columns])
        bodies = [{k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
                  for rec in ref.to_dict(orient="records")]
        script = Path(d) / "bodies.lua"
        script.write_text(lua_script(bodies))
        runs = [("rampup serve --workers 2 (baseline)", ["--workers", "2"])]
        served = []
        for label, extra in runs:
            served.append((label, serve(proj, extra, script, seconds, args.connections)))
        for n in (1, 2):
            set_replicas(proj, n)
            served.append((f"rampup serve --engine ray, {n} replica{'s' if n > 1 else ''}",
                           serve(proj, ["--engine", "ray"], script, seconds,
                                 args.connections)))
        table = Table(title=f"serving, wrk {args.connections} connections, {seconds:.0f} s",
                      title_justify="left")
        for col in ("server", "req/s", "p50 ms", "p99 ms", "errors", "vs --workers 2"):
            table.add_column(col, justify="left" if col == "server" else "right")
        base = served[0][1]["req_per_s"]
        for label, r in served:
            table.add_row(label, f"{r['req_per_s']:,.0f}", f"{r['p50_us'] / 1000:.1f}",
                          f"{r['p99_us'] / 1000:.1f}", str(r["errors"]),
                          f"{r['req_per_s'] / base:.2f}x")
        console.print(table)
        console.print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
