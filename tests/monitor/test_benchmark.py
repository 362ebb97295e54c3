"""Smoke tests of benchmarks/monitoring.py: its in-process parts run and measure what they
say. No timing assertions. The end-to-end run (servers and wrk) is marked slow."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import tool_or_skip

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


inproc = _load("_monitoring_inproc")
model = _load("_model")


@pytest.fixture(scope="module")
def data() -> tuple[object, list[dict[str, float]]]:
    frame = model.make_frame(1000)
    return frame, model.payloads(frame)


def test_memory_part_feeds_rolls_over_and_flushes(tmp_path: Path, data: tuple) -> None:
    frame, rows = data
    result = inproc.memory(f"sqlite:///{tmp_path / 'm.db'}", frame, model.FEATURES, rows,
                           total=130_000, first=10_000)
    first, last = result["marks"]
    assert (first["predictions"], last["predictions"]) == (10_000, 130_000)
    assert first["windows"] == 1
    assert 2 <= last["windows"] <= 12  # 130 s of simulated traffic, 600 s kept in memory
    assert last["repeat_keys"] == 10_000  # the detector's bound, reached
    assert result["rows_written"] > 0
    assert result["monitor_us_per_record"] > 0


def test_flush_part_writes_four_windows(tmp_path: Path, data: tuple) -> None:
    frame, rows = data
    result = inproc.flush_cost(f"sqlite:///{tmp_path / 'f.db'}", frame, model.FEATURES,
                               rows, repeats=3)
    assert (result["backend"], result["windows"]) == ("sqlite", 4)
    assert 0 < result["median_ms"] <= result["max_ms"]
    assert inproc.hot_path_cost(rows, n=1000)["offer_ns"] > 0


@pytest.mark.slow
def test_quick_end_to_end_run(tmp_path: Path) -> None:
    tool_or_skip("wrk")
    out = subprocess.run(
        [sys.executable, str(BENCH / "monitoring.py"), "--quick", "--duration", "1",
         "--warmup", "1", "--connections", "1", "--no-postgres", "--predictions", "20000",
         "--results", str(tmp_path)], capture_output=True, text=True, timeout=600,
        check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = tmp_path.glob("monitoring-*.json")
    result = json.loads(path.read_text())
    assert {r["config"] for r in result["runs"]} == {"on", "off"}
    assert all(r["errors"] == 0 and r["req_per_s"] > 0 for r in result["runs"])
    assert result["verified"]["on"]["summary"]["requests"] > 0
    assert result["verified"]["off"]["summary"]["requests"] is None
    assert "Targets" in out.stdout
