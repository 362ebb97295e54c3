"""Smoke tests of benchmarks/rollout.py: its summaries, its models and one short real run.

No timing assertions: the numbers depend on the machine. The end-to-end run (a server
subprocess and the load generator) is marked slow.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["_rollout_report", "_rollout_load"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(_load(name))
    assert result.attempted > 0
    assert result.failed == 0


def test_the_models_misbehave_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPUP_BENCH_MODEL_MS", "0.5")
    models = _load("_rollout_models")
    xs = [{"x": round(i / 1000, 4)} for i in range(1000)]
    assert models.Healthy().predict(xs[:3]) == [0, 0, 0]
    failed = 0
    for rec in xs:
        try:
            models.Flaky().predict([rec])
        except RuntimeError:
            failed += 1
    assert failed == 200
    t0 = time.perf_counter()
    assert models.Slow().predict([{"x": 0.9}]) == [1]
    assert time.perf_counter() - t0 >= 0.05
    t0 = time.thread_time()
    models.Twin().predict(xs[:10])
    assert time.thread_time() - t0 >= 0.004  # 10 records x 0.5 ms of this thread's CPU


def test_the_load_generator_only_targets_this_machine() -> None:
    load = _load("_rollout_load")
    with pytest.raises(ValueError, match="only targets this machine"):
        load.Load("http://example.com", "m", rate=10)


@pytest.mark.slow
def test_a_short_real_run_rolls_the_flaky_candidate_back(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    rollout = _load("rollout")
    code = rollout.main(["--only", "a", "--repeats", "1", "--rate", "100", "--warmup", "1",
                         "--results", str(tmp_path)])
    assert code == 0
    (path,) = tmp_path.glob("rollout-*.json")
    doc = json.loads(path.read_text())
    (run,) = doc["canary"]["flaky"]["runs"]
    assert run["state"] == "rolled_back"
    assert "error_rate" in run["reason"]
    assert run["bad"] >= 100  # the controller judges no fewer than 100 requests
    assert run["bad_after_rollback"] == 0


@pytest.mark.slow
def test_the_gates_simulation_runs_and_prints_its_tables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Part (d) at a tiny size: it runs, prints both tables and writes its JSON (its
    numbers need the full run: `python benchmarks/rollout.py --only d`)."""
    monkeypatch.syspath_prepend(str(BENCH))
    rollout = _load("rollout")
    code = rollout.main(["--only", "d", "--gate-runs", "2", "--gate-bad-runs", "1",
                         "--gate-rate", "10", "--results", str(tmp_path)])
    assert code in (0, 1)  # 2 runs decide nothing about a 5% target
    out = capsys.readouterr().out
    assert "Identical candidate" in out
    assert "Bad candidates" in out
    (path,) = tmp_path.glob("rollout-gates-*.json")
    doc = json.loads(path.read_text())["gates"]
    gates = _load("_rollout_gates")
    assert [r["check"] for r in doc["false_fails"]] == [c for _, c in gates.KINDS]
    for row in doc["false_fails"]:
        assert set(row) >= {"sequential", "fixed", "target_passed"}
        assert row["sequential"]["runs"] == 2
    assert [r["candidate"] for r in doc["time_to_fail"]] == ["20% errors", "+50 ms"]
    assert code == (1 if gates.failed_targets(doc) else 0)
