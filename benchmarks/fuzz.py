"""The long fuzz run (issue 14): schemathesis over a real ``rampup serve``'s OpenAPI.

    python benchmarks/fuzz.py                  # 50 valid + 50 invalid cases per operation
    python benchmarks/fuzz.py --examples 200   # longer
    python benchmarks/fuzz.py --quick          # 2 + 2 per operation (a smoke run)

A throwaway project (tests/fuzz/target.py: a scikit-learn model with a typed schema,
partial automation, retraining and an alert rule) is registered with the CLI and served
by ``rampup serve`` on a free port. Every operation of its ``/openapi.json`` (the generic
routes and each model's own predict paths with their real fields) gets ``--examples``
schema-valid and ``--examples`` schema-violating cases, first without a token, then with
the admin token (which registers artifacts, changes deployments, starts rollouts and
retraining runs). The server's own state keeps changing under the run, as it would
under an attacker.

Target (exit status 1 otherwise): 0 server errors (5xx other than an honest 503), 0
transport errors, and the server still alive and answering ``/healthz`` at the end.
There is no speed baseline here: the result is a count, not a rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.target import FuzzResult, fuzz, postgres_schema, serve, write_project

console = Console(width=None if sys.stdout.isatty() else 140)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=50,
                   help="valid and invalid cases per operation and token")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--quick", action="store_true", help="2 cases per operation and mode")
    p.add_argument("--postgres", action="store_true",
                   help="store on the test PostgreSQL (a fresh schema) instead of SQLite")
    args = p.parse_args(argv)
    examples = 2 if args.quick else args.examples
    t0 = time.monotonic()
    results: dict[str, FuzzResult] = {}
    with tempfile.TemporaryDirectory(prefix="rampup-fuzz-") as tmp, ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if args.postgres else None
        root = write_project(Path(tmp) / "project", database_url=url)
        with serve(root) as served:
            import schemathesis

            n_ops = sum(1 for _ in schemathesis.openapi.from_url(
                f"{served.url}/openapi.json").get_all_operations())
            with Progress(console=console, transient=True) as progress:
                for who, admin in (("anonymous", False), ("admin token", True)):
                    task = progress.add_task(f"fuzzing as {who}", total=n_ops * 2)
                    results[who] = fuzz(served.url, examples=examples, admin=admin,
                                        seed=args.seed,
                                        progress=lambda t=task: progress.advance(t))
            alive = served.proc.poll() is None
            healthy = alive and httpx.get(f"{served.url}/healthz",
                                          timeout=30).status_code == 200
    elapsed = time.monotonic() - t0
    load = os.getloadavg()[0]
    store = "PostgreSQL" if args.postgres else "SQLite"
    table = Table(title=f"schemathesis over rampup serve ({store}): {examples} valid + "
                        f"{examples} "
                        f"invalid cases per operation ({elapsed:.0f} s, load average "
                        f"{load:.2f}, {os.cpu_count()} CPUs)")
    for col in ("token", "operations", "cases", "2xx", "4xx", "503", "5xx", "transport",
                "verdict"):
        table.add_column(col, justify="left" if col == "token" else "right")
    failed = not healthy
    for who, r in results.items():
        by_class = Counter(s // 100 for s in r.statuses.elements())
        bad = len(r.server_errors) + len(r.transport_errors)
        failed |= bad > 0
        table.add_row(who, str(r.operations), f"{r.total:,}", f"{by_class[2]:,}",
                      f"{by_class[4]:,}", f"{r.statuses[503]:,}", str(len(r.server_errors)),
                      str(len(r.transport_errors)), "PASS" if bad == 0 else "FAIL")
    console.print(table)
    console.print(f"server alive and healthy at the end: {'yes' if healthy else 'NO'}")
    for who, r in results.items():
        for label, status, case, body in r.server_errors[:30]:
            console.print(f"[red]{who}: {status} {label}[/red]\n  {case}\n  {body}")
        for label, why in r.transport_errors[:30]:
            console.print(f"[red]{who}: {label}: {why}[/red]")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
