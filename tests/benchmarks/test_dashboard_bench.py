"""Smoke test of benchmarks/dashboard.py on a small store (no timing assertions)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "dashboard.py"


def test_dashboard_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_dashboard", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    code = module.main(["--minutes", "30", "--features", "6", "--records", "40",
                        "--repeat", "1", "--browser", "off", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    assert "model page data (sum)" in out
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["seed"]["rows"] > 30  # v1 every minute, v2 over the last quarter
    assert doc["page_s"] > 0
    assert doc["render"] is None
