"""Smoke test of benchmarks/ticks.py at a tiny size on both stores: history, a canary step
with labels arriving late, ticks whose full re-read and incremental verdicts, concept
metrics and alert values must agree (the benchmark exits with an error when they do not).
No timing assertions (the verdict on a loaded machine is not the point here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import PG_URL

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_ticks_benchmark_runs_and_prints_its_table(db_url: str) -> None:
    args = [sys.executable, str(BENCH / "ticks.py"), "--rows", "2000", "--rates", "20,100",
            "--window", "20", "--ticks", "2", "--json"]
    if db_url.startswith("postgresql"):  # the benchmark makes its own scratch schema
        args += ["--database-url", PG_URL]
    out = subprocess.run(args, capture_output=True, text=True, cwd=BENCH, timeout=600,
                         check=False)
    assert out.returncode in (0, 1), (out.stdout[-2000:], out.stderr[-3000:])
    assert "2,000 history rows written" in out.stdout, out.stdout[-2000:]
    assert "median ms per tick" in out.stdout
    assert '"window_rows": 2000' in out.stdout  # 100 req/s over 20 s
    assert "incremental median per tick at most" in out.stdout
