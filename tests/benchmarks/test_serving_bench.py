"""Smoke tests of benchmarks/serving.py: its parts run and its verdicts are right.

No timing assertions: the numbers depend on the machine. The end-to-end run (servers
and wrk) is marked slow and needs the ``wrk`` binary.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from tests.conftest import tool_or_skip

from rampup.config import Settings
from rampup.store import Database
from rampup.store.engine import normalise_url

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


logwriter = _load("_logwriter")
report = _load("_report")
wrk = _load("_wrk")


def test_log_writer_part_writes_every_record_on_sqlite(tmp_path: Path) -> None:
    records = logwriter.make_records(3000)
    assert len(records[0].inputs) == 16
    assert len({r.id for r in records}) == 3000
    url = f"sqlite:///{tmp_path / 'log.db'}"
    result = logwriter.measure(url, records,
                               settings=Settings(project_dir=tmp_path, log_batch_size=500))
    assert result["backend"] == "sqlite"
    assert result["flushed"] is True
    assert (result["written"], result["stored"], result["dropped"]) == (3000, 3000, 0)
    assert result["batches"] >= 6  # 3000 rows in batches of at most 500
    assert result["rows_per_s"] > 0
    store = Database.open(url)
    try:
        row = store.predictions.get_predictions([records[0].id])[0]
    finally:
        store.close()
    assert json.loads(row["inputs"]) == records[0].inputs


@pytest.mark.postgres
def test_scratch_postgres_schema_is_dropped(pg_available: bool) -> None:
    from tests.conftest import PG_URL

    records = logwriter.make_records(500)
    with logwriter.scratch_postgres(PG_URL) as url:
        schema = url.rsplit("%3D", 1)[1]
        result = logwriter.measure(url, records)
        assert (result["backend"], result["stored"]) == ("postgresql", 500)
    engine = sa.create_engine(normalise_url(PG_URL))
    try:
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM information_schema.schemata "
                                        "WHERE schema_name = :s"), {"s": schema}).scalar()
    finally:
        engine.dispose()
    assert left == 0


def test_targets_fail_when_rampup_is_slow() -> None:
    run = report.run
    runs = [run("n", 1, 1000, 1.0, 2.0), run("b", 1, 500, 1.8, 3.0),
            run("n", 16, 1200, 13.0, 20.0), run("b", 16, 1100, 16.0, 31.0),
            run("c", 16, 1500, 10.0, 35.0)]
    writers = [{"backend": "sqlite", "rows_per_s": 20_000.0},
               {"backend": "postgresql", "rows_per_s": 3_000.0},
               {"backend": "postgresql", "skipped": "unreachable"}]
    open_loop = [{"config": "n", "rate": 1000.0, "p99_ms": 2.0, "generator_limited": False},
                 {"config": "b", "rate": 1000.0, "p99_ms": 3.2, "generator_limited": False},
                 {"config": "c", "rate": 1000.0, "p99_ms": 2.5, "generator_limited": True}]
    mixed = [{"config": "b", "size": 1000, "alone": {"p99_ms": 2.0},
              "with_large": {"p99_ms": 2.8}}]
    checks = {c["name"]: c for c in report.targets(runs, writers, open_loop, mixed)}
    assert not checks["b/n throughput @ 1 conn"]["passed"]
    assert checks["b/n throughput @ 16 conns"]["passed"]  # 1100 / 1200 = 0.92
    added = checks["p50 added latency b - n @ 1 conn"]
    assert added["measured"] == pytest.approx(0.8)
    assert not added["passed"]
    assert checks["b/n p99 @ 16 conns"]["measured"] == pytest.approx(1.55)
    assert not checks["b/n p99 @ 16 conns"]["passed"]
    assert checks["c/n throughput @ 16 conns"]["measured"] == pytest.approx(1.25)
    assert not checks["c/n throughput @ 16 conns"]["passed"]
    assert checks["c/n p99 @ 16 conns"]["passed"]  # 1.75 <= 2
    assert not checks["b/n p99 @ 1,000 req/s open loop"]["passed"]  # 1.6
    # a generator that fell behind its schedule gives no verdict either way
    assert checks["c/n p99 @ 1,000 req/s open loop"]["note"] == "generator-limited"
    assert checks["b single-record p99 with / without 1,000-record requests"]["passed"]
    # the writer is compared with the best rampup rate (1500 rows/s)
    assert checks["log writer sqlite / serving rate"]["passed"]
    assert checks["log writer postgresql / serving rate"]["measured"] == pytest.approx(2.0)
    assert not checks["log writer postgresql / serving rate"]["passed"]
    assert len(checks) == 11  # the skipped writer has no verdict


def test_wrk_script_and_output() -> None:
    script = wrk.lua_script([{"age": 30.0, "income": 5.5}])
    assert '[==[{"age":30.0,"income":5.5}]==]' in script
    assert "done = function" in script
    out = wrk.parse_output('Running 1s test\nRESULT {"requests": 50, "duration_us": 500000, '
                           '"status_errors": 2, "timeouts": 1, "p50_us": 1000}\n')
    assert (out["req_per_s"], out["errors"]) == (100.0, 3)
    with pytest.raises(RuntimeError, match="no RESULT line"):
        wrk.parse_output("wrk crashed")


@pytest.mark.parametrize("module", [report, wrk], ids=["_report", "_wrk"])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.slow
def test_quick_end_to_end_run(tmp_path: Path) -> None:
    tool_or_skip("wrk")
    out = subprocess.run(
        [sys.executable, str(BENCH / "serving.py"), "--quick", "--duration", "1",
         "--warmup", "1", "--connections", "1,4", "--no-postgres", "--log-rows", "1000",
         "--open-loop-rate", "100", "--mixed-rate", "50", "--large-rate", "1",
         "--large-size", "50", "--results", str(tmp_path)], capture_output=True, text=True,
        timeout=900, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = tmp_path.glob("serving-*.json")
    result = json.loads(path.read_text())
    assert {(r["config"], r["connections"]) for r in result["runs"]} == {
        (c, n) for c in "nabcd" for n in (1, 4)}
    assert all(r["errors"] == 0 and r["req_per_s"] > 0 for r in result["runs"])
    assert all(r["p999_ms"] >= r["p99_ms"] for r in result["runs"])
    assert {r["config"] for r in result["open_loop"]} == {"n", "b", "c"}
    assert all(r["errors"] == 0 and r["requests"] > 0
               for row in result["open_loop"] for r in row["rounds"])
    (mixed,) = result["mixed"]
    assert mixed["large"]["errors"] == 0
    assert mixed["large"]["rounds"][0]["requests"] > 0  # the large requests did flow
    assert all(n > 0 for n in result["logged_rows"].values())
    assert "Targets" in out.stdout
    assert "open loop" in out.stdout


def test_report_renders_tables_and_verdicts() -> None:
    import io

    from rich.console import Console

    run = report.run
    runs = [run("n", 1, 1000, 1.0, 2.0), run("b", 1, 900, 1.2, 2.5),
            run("n", 16, 1000, 14.0, 20.0), run("b", 16, 950, 17.0, 25.0),
            run("c", 16, 1300, 11.0, 30.0)]
    writers = [{"backend": "sqlite", "rows": 1000, "seconds": 0.1, "rows_per_s": 10_000.0,
                "dropped": 0, "failed": 0},
               {"backend": "postgresql", "skipped": "unreachable"}]
    opened = [{"config": c, "rate": 1000.0, "req_per_s": 990.0, "p50_ms": 1.0,
               "p90_ms": 1.5, "p99_ms": p99, "max_ms": 9.0, "late_share": 0.0, "errors": 0,
               "generator_limited": False} for c, p99 in (("n", 2.0), ("b", 2.4))]
    mixed = [{"config": "b", "rate": 300.0, "large_rate": 4.0, "size": 1000,
              "alone": {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 5.0},
              "with_large": {"p50_ms": 1.1, "p99_ms": 2.6, "max_ms": 8.0},
              "large": {"p50_ms": 40.0}}]
    buf = io.StringIO()
    report.render(Console(file=buf, width=200), runs, writers,
                  report.targets(runs, writers, opened, mixed), opened, mixed)
    text = buf.getvalue()
    assert "b rampup" in text
    assert "0.90x" in text  # b/n at 1 connection
    assert "skipped: unreachable" in text
    assert "1.30x" in text  # the singles' p99 beside large requests
    assert text.count("PASS") == 8
    assert text.count("FAIL") == 1  # c/n = 1.3 at 16 connections
