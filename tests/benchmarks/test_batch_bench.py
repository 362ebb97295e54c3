"""Smoke test of benchmarks/batch.py: it runs on tiny sizes and prints its table (its
numbers and verdict are the benchmark's business, not the suite's)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "batch.py"


def test_batch_benchmark_runs_quick(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_batch", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for row in ("arrow (baseline)", "rampup validate_frame", "per-cell Python loop",
                "typed", "csv text"):
        assert row in out
