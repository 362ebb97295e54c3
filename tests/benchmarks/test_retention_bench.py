"""Smoke test of benchmarks/retention.py at a tiny size: it fills, serves, measures idle
and during retention, deletes every expired row and prints its table. No timing
assertions (the verdict on a loaded machine is not the point here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_retention_benchmark_runs_and_prints_its_table() -> None:
    out = subprocess.run([sys.executable, str(BENCH / "retention.py"), "--rows", "3000",
                          "--duration", "1", "--rate", "20"], capture_output=True, text=True,
                         cwd=BENCH, timeout=600, check=False)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    assert "retention running" in out.stdout
    assert "idle (baseline)" in out.stdout
    assert "retention: 3,000 rows" in out.stdout
    assert "p99 ratio (retention / idle)" in out.stdout
