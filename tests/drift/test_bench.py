"""Smoke tests of benchmarks/drift.py: its helpers, and one quick run (slow). No timing
assertions: the numbers depend on the machine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from rampup.drift.profiles import window_profile
from rampup.registry.profile import compute_profile, infer_schema

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "drift.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_drift", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_window_is_the_monitor_shape(bench: ModuleType) -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    prof = compute_profile(ref, infer_schema(ref))
    cur = rng.normal(0.3, 1, 700)
    entry = bench.monitor_window(cur, prof["features"]["x"])
    mine = window_profile(pd.DataFrame({"x": cur}), prof)["features"]["x"]
    assert entry["counts"] == mine["counts"]
    assert entry["quantiles"] is None
    assert entry["mean"] == pytest.approx(mine["mean"])


def test_false_alarm_verdicts_account_for_noise(bench: ModuleType) -> None:
    assert bench.fa_verdict(20, 400) == (True, "PASS")
    assert bench.fa_verdict(24, 400) == (True, "PASS (noise)")  # 6 %: within noise
    assert bench.fa_verdict(40, 400) == (False, "FAIL")
    assert bench.interval(20, 400).startswith("5.0% [")


def test_fixed_psi_rule_flags_small_windows(bench: ModuleType) -> None:
    rng = np.random.default_rng(1)
    ref = np.sort(rng.normal(size=20_000))
    flagged = sum(bench.fixed_psi(ref, rng.normal(size=100)) >= 0.1 for _ in range(50))
    assert flagged >= 10  # the point of calibrating: a fixed 0.1 misfires at n = 100


@pytest.mark.slow
def test_quick_run(bench: ModuleType, tmp_path: Path) -> None:
    assert bench.main(["--quick", "--save", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("drift-*.json"))) == 1
