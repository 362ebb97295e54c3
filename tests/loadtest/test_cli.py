"""``rampup loadtest`` against a real server (``rampup serve`` in a subprocess) with a fast
and a clearly slow model (200 ms a call against a 50 ms SLO)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rampup.cli import app
from rampup.store import Database

from .conftest import Served, free_port

runner = CliRunner()


def loadtest(served: Served, *args: str) -> tuple[int, str, dict[str, Any] | None]:
    result = runner.invoke(app, ["-p", str(served.project), "loadtest", *args,
                                 "--url", served.url])
    doc = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
    return result.exit_code, result.output, doc


def verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["status"] for v in doc["slo"]}


def test_passes_the_slos_a_server_meets(served: Served) -> None:
    code, out, doc = loadtest(served, "fast", "--duration", "3s", "--json")
    assert code == 0, out
    assert doc is not None
    assert doc["passed"] is True
    assert doc["exit_code"] == 0
    assert verdicts(doc) == {"latency_p99_ms": "pass", "max_error_rate": "pass",
                             "expected_qps": "pass"}  # slo: of the project file, 20 req/s
    assert doc["requests"] == 60
    assert doc["outcomes"] == {"ok": 60}
    assert doc["rate"] == {"start": 20.0, "end": 20.0}
    assert doc["achieved_rps"] == 20.0
    assert not doc["generator"]["shortfall"]
    assert set(doc["latency_ms"]) == {"p50", "p90", "p99", "p99.9", "max", "mean"}
    assert sum(b["count"] for b in doc["histogram"]) == 60
    assert "reference profile" in doc["bodies"]
    assert doc["windows"][0]["offered_rps"] == 20.0


def test_fails_an_slo_the_server_breaks(served: Served) -> None:
    code, out, _ = loadtest(served, "slow", "--qps", "10", "--duration", "2s")
    assert code == 1, out
    assert "latency_p99_ms" in out
    assert "fail" in out
    assert "> 50 ms" in out
    assert "latency histogram" in out
    assert "outcomes: ok 20" in out


def test_flags_override_the_project_slo(served: Served) -> None:
    code, out, doc = loadtest(served, "slow", "--qps", "10", "--duration", "2s",
                              "--p99-ms", "5000", "--expect-qps", "10", "--json")
    assert code == 0, out
    assert doc is not None
    assert verdicts(doc) == {"latency_p99_ms": "pass",
                                                 "expected_qps": "pass"}
    assert doc["latency_ms"]["p50"] >= 200  # the model sleeps 200 ms


def test_a_generator_that_cannot_keep_up_judges_nothing(served: Served) -> None:
    code, out, doc = loadtest(served, "slow", "--qps", "100000", "--duration", "0.3s",
                              "--connections", "2", "--timeout", "1s", "--json")
    assert code == 3, out
    assert doc is not None
    assert doc["generator"]["limited"]
    assert doc["generator"]["shortfall"]
    assert doc["passed"] is None
    assert set(verdicts(doc).values()) == {"not judged"}
    assert "generator-limited" in doc["slo"][0]["detail"]
    assert doc["achieved_rps"] < 0.95 * doc["offered_rps"]


def test_error_kinds(served: Served, tmp_path: Path) -> None:
    code, _, doc = loadtest(served, "slow", "--qps", "10", "--duration", "1s",
                            "--timeout", "50ms", "--json")
    assert code == 1
    assert doc is not None
    assert doc["outcomes"] == {"timeout": 10}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": "not a number", "kind": "a"}\n')
    code, _, doc = loadtest(served, "fast", "--qps", "10", "--duration", "1s", "--data",
                            str(bad), "--max-error-rate", "0.5", "--json")
    assert code == 1
    assert doc is not None
    assert doc["outcomes"] == {"http 422": 10}
    result = runner.invoke(app, ["-p", str(served.project), "loadtest", "fast", "--qps", "10",
                                 "--duration", "1s", "--url", f"http://127.0.0.1:{free_port()}",
                                 "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1, doc
    assert doc["outcomes"] == {"connection error": 10}


def test_bodies_from_a_file_and_replayed_from_the_log(served: Served, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("x,kind,label\n1.5,a,0\n2.5,b,1\n")
    code, out, doc = loadtest(served, "fast", "--qps", "20", "--duration", "1s", "--data",
                              str(rows), "--json")
    assert code == 0, out
    assert doc is not None
    assert doc["bodies"] == "rows.csv"
    assert doc["outcomes"] == {"ok": 20}
    store = Database.open(f"sqlite:///{served.project / 'rampup.db'}")
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # the server's log writer flushes in the background
            logged = [r for chunk in store.predictions.iter_predictions("fast", with_labels=False)
                      for r in chunk if json.loads(r["inputs"]).get("x") == 2.5]
            if logged:
                break
            time.sleep(0.2)
        assert logged
    finally:
        store.close()
    code, out, doc = loadtest(served, "fast", "--qps", "20", "--duration", "1s",
                              "--replay-log", "1h", "--json")
    assert code == 0, out
    assert doc is not None
    assert "logged requests since 1h" in doc["bodies"]
    assert doc["outcomes"] == {"ok": 20}


def test_several_processes_share_the_schedule(served: Served) -> None:
    code, out, doc = loadtest(served, "fast", "--qps", "40", "--duration", "2s",
                              "--processes", "2", "--arrivals", "poisson", "--json")
    assert code == 0, out
    assert doc is not None
    assert doc["processes"] == 2
    assert doc["arrivals"] == "poisson"
    assert doc["outcomes"] == {"ok": doc["requests"]}
    assert 40 <= doc["requests"] <= 130


def test_ramp_reports_every_window(served: Served) -> None:
    code, out, doc = loadtest(served, "fast", "--ramp", "5:40", "--duration", "4s",
                              "--windows", "4", "--json")
    assert code == 0, out
    assert doc is not None
    assert len(doc["windows"]) == 4
    for window, rate in zip(doc["windows"], [9.4, 18.1, 26.9, 35.6], strict=True):
        assert abs(window["offered_rps"] - rate) <= 1  # whole requests per 1 s window
    assert doc["capacity_rps"] is not None
    assert doc["capacity_rps"] >= 20
    assert verdicts(doc)["expected_qps"] == "pass"


def test_usage_errors_name_the_fix(served: Served) -> None:
    result = runner.invoke(app, ["-p", str(served.project), "loadtest", "slow", "--url",
                                 served.url, "--duration", "1s"])
    assert result.exit_code == 2
    assert "--qps N or --ramp" in result.output
    result = runner.invoke(app, ["-p", str(served.project), "loadtest", "fast", "--url",
                                 "ftp://x", "--duration", "1s"])
    assert result.exit_code == 2
    assert "http://" in result.output
    result = runner.invoke(app, ["-p", str(served.project), "loadtest", "fast", "--url",
                                 served.url, "--duration", "soon"])
    assert result.exit_code == 2
    assert "--duration: cannot read 'soon' as a duration" in result.output


def test_python_api(served: Served) -> None:
    import rampup

    report = rampup.load_test(f"{served.url}/v1/models/slow/predict",
                              [b'{"x": 1.0, "kind": "a"}'], 10, 1.0,
                              slo={"latency_p99_ms": 50.0}, lag_bound_ms=1000)
    assert report.exit_code == 1
    assert report.outcomes == {"ok": 10}
    assert report.verdicts[0].status == "fail"
