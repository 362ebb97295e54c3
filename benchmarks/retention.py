"""Retention benchmark: the serving p99 while the leader's retention deletes a million rows.

    python benchmarks/retention.py                 # 1,000,000 expired rows, SQLite
    python benchmarks/retention.py --quick         # 50,000 rows (smoke run)
    python benchmarks/retention.py --database-url postgresql://postgres@127.0.0.1/test

A fresh project gets the serving benchmark's model and ``--rows`` prediction-log rows
older than the retention (1 day). ``rampup serve`` (the real app, pinned to CPU 0) is
measured open-loop by ``rampup loadtest`` at ``--rate`` requests/s twice, in the same
run: once idle (the baseline), once while another process, as the leader does, applies
the retention in its batches (``rampup.security.retention.apply_retention``, batches
of 1,000 rows, each its own transaction, resting three times as long as each took) on the server's
CPU until every expired row is gone. The same
server keeps logging its own predictions meanwhile, so the deletes contend with the log
writer as they would in production.

Ratio = p99 during retention / p99 idle. Target: at most ``--target`` (2.0); exit 1 when
it fails. Also reported: the rows deleted per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from _model import build, payloads
from _server import MODEL_NAME
from loadtest import generator
from serving import Server, prepare_rampup

HERE = Path(__file__).resolve().parent
console = Console(width=None if sys.stdout.isatty() else 120)
PROJECT_YAML = "retention:\n  predictions: 1d\n"

_DELETER = """
import json, os, sys, time
os.sched_setaffinity(0, {0})  # the leader replica's CPU: the server's
from rampup.project import parse_project
from rampup.security.retention import apply_retention
from rampup.store import Database
store = Database.open(sys.argv[1])
project = parse_project({"retention": {"predictions": "1d"}})
t0 = time.perf_counter(); total = 0
while True:
    report = apply_retention(store, project, batch=1000, max_batches=20)
    total += report.deleted["predictions"]
    if not report.more:
        break
print(json.dumps({"deleted": total, "seconds": time.perf_counter() - t0}))
"""


def fill(url: str, rows: int) -> None:
    """``rows`` expired prediction rows (400 days old), as the log writer stores them."""
    from rampup.store import Database

    store = Database.open(url)
    old = time.time() - 400 * 86_400
    inputs = orjson.dumps({"age": 41, "income": 52000.0, "city": "paris"}).decode()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("writing expired rows", total=rows)
            step = 20_000
            for start in range(0, rows, step):
                n = min(step, rows - start)
                store.predictions.insert_predictions([{
                    "id": f"old-{start + i}", "request_id": f"old-{start + i}",
                    "ts": old + (start + i) * 1e-3, "model": MODEL_NAME, "version": "v1",
                    "role": "answer", "stage": None, "inputs": inputs, "outputs": "1",
                    "confidence": 0.9, "latency_ms": 1.0, "error": None,
                    "request_key": f"user-{(start + i) % 5000}"} for i in range(n)])
                progress.advance(task, n)
    finally:
        store.close()


def measure(url: str, bodies: list[bytes], rate: float, duration: float) -> dict[str, Any]:
    report = generator(url, bodies, rate, duration, cpus={1 % (os.cpu_count() or 1)},
                       connections=64)
    lat = report["latency_ms"]
    return {"p50": lat.get("p50"), "p99": lat.get("p99"), "errors": report["error_rate"],
            "achieved": report["achieved_rps"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="50,000 rows, 5 s windows")
    p.add_argument("--rate", type=float, default=100.0, help="offered requests/s")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    p.add_argument("--target", type=float, default=2.0, help="max p99 ratio")
    p.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    args = p.parse_args()
    rows, duration = (50_000, 5.0) if args.quick else (args.rows, args.duration)
    with tempfile.TemporaryDirectory(prefix="rampup-retention-") as tmp:
        project = Path(tmp)
        (project / "rampup.yaml").write_text(PROJECT_YAML)
        if args.database_url:
            os.environ["RAMPUP_DATABASE_URL"] = args.database_url
        model_path, frame = build(project)
        prepare_rampup(project, model_path, frame)
        from rampup.config import Settings

        url = Settings(project_dir=project).resolved_database_url
        t0 = time.perf_counter()
        fill(url, rows)
        console.print(f"{rows:,} expired rows written in {time.perf_counter() - t0:.1f} s")
        os.environ["RAMPUP_RETENTION"] = "false"  # the deleter process is the leader here
        server = Server("rampup", ["rampup", "--project-dir", str(project)], 0, "auto",
                        "auto", project / "server.log")
        try:
            server.wait_ready()
            bodies = [orjson.dumps(b) for b in payloads(frame)]
            endpoint = f"{server.base}/v1/models/{MODEL_NAME}/predict"
            measure(endpoint, bodies, args.rate, 2.0)  # warm-up
            idle = measure(endpoint, bodies, args.rate, duration)
            deleter = subprocess.Popen([sys.executable, "-c", _DELETER, url],
                                       stdout=subprocess.PIPE, text=True)
            busy = measure(endpoint, bodies, args.rate, duration)
            still = deleter.poll() is None
            out, _ = deleter.communicate(timeout=3600)
            deleted = json.loads(out.splitlines()[-1])
        finally:
            server.stop()
    ratio = (busy["p99"] or 0) / max(idle["p99"] or 1e-9, 1e-9)
    table = Table(title=f"serving p99 while retention deletes {rows:,} rows "
                  f"({'PostgreSQL' if args.database_url else 'SQLite'}, {args.rate:g} req/s "
                  f"offered, load {os.getloadavg()[0]:.2f})", title_justify="left")
    for col in ("phase", "p50 ms", "p99 ms", "errors", "achieved req/s"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    for name, m in (("idle (baseline)", idle), ("retention running", busy)):
        table.add_row(name, f"{m['p50']:.2f}", f"{m['p99']:.2f}", f"{m['errors']:.3%}",
                      f"{m['achieved']:.0f}")
    console.print(table)
    console.print(f"retention: {deleted['deleted']:,} rows in {deleted['seconds']:.1f} s "
                  f"({deleted['deleted'] / max(deleted['seconds'], 1e-9):,.0f} rows/s)"
                  + ("; it ran through the whole measurement" if still else
                     "; it finished before the measurement ended"))
    ok = ratio <= args.target and deleted["deleted"] == rows
    console.print(f"p99 ratio (retention / idle): {ratio:.2f} (target ≤ {args.target:g}): "
                  + ("[green]pass[/]" if ok else "[red]FAIL[/]"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
