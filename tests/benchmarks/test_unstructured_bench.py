"""Smoke test of benchmarks/unstructured.py: the quick run prints its three tables (its
numbers depend on the machine and are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "unstructured.py"


@pytest.mark.slow
def test_quick_run_prints_every_table() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                         text=True, timeout=600, env={"COLUMNS": "200", "PATH": ""},
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    for title in ("decode + input metrics", "serving a base64", "embedding drift"):
        assert title in out.stdout
    assert "rampup predict" in out.stdout
