"""`rampup init` and `rampup serve` for real: a subprocess, HTTP, graceful shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rampup.cli import app
from rampup.store import Database

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_init_scaffolds_a_valid_project(tmp_path: Path) -> None:
    from rampup.project import load_project

    result = runner.invoke(app, ["init", str(tmp_path / "empty")])
    assert result.exit_code == 0, result.output
    assert load_project(tmp_path / "empty" / "rampup.yaml").models == {}
    assert not (tmp_path / "empty" / "example").exists()
    assert "rampup register NAME model.joblib" in result.output
    result = runner.invoke(app, ["init", str(tmp_path / "proj"), "--example"])
    assert result.exit_code == 0, result.output
    proj = tmp_path / "proj"
    assert (proj / "rampup.yaml").is_file()
    assert (proj / "artifacts").is_dir()
    assert (proj / "example" / "train.py").is_file()
    spec = load_project(proj / "rampup.yaml")
    assert "loan-default" in spec.models
    again = runner.invoke(app, ["init", str(proj)])
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_serving_an_example_before_training_it_says_so(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    assert runner.invoke(app, ["init", str(proj), "--example"]).exit_code == 0
    result = runner.invoke(app, ["-p", str(proj), "serve"])
    assert result.exit_code == 2
    assert "rampup.yaml declares loan-default@v1" in result.output
    assert "train the model first" in result.output


def test_bad_project_file_names_key_value_and_allowed(tmp_path: Path) -> None:
    (tmp_path / "rampup.yaml").write_text(
        "models:\n  credit:\n    slo:\n      latency_p99_ms: fast\n    batchin: {}\n")
    result = runner.invoke(app, ["-p", str(tmp_path), "versions"])
    assert result.exit_code == 2
    assert "models.credit.slo.latency_p99_ms = 'fast'" in result.output
    assert "models.credit.batchin: unknown key" in result.output
    assert "batching" in result.output


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''!r}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_subprocess_end_to_end(tmp_path: Path, workers: int) -> None:
    proj = tmp_path / "proj"
    assert runner.invoke(app, ["init", str(proj), "--example"]).exit_code == 0
    subprocess.run([sys.executable, "example/train.py"], cwd=proj, check=True,
                   capture_output=True)
    port = free_port()
    env = {**os.environ, "RAMPUP_ADMIN_TOKEN": "t0ken", "RAMPUP_LOG_FLUSH_INTERVAL": "0.05"}
    env.pop("RAMPUP_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rampup", "-p", str(proj), "serve", "--port", str(port),
         "--workers", str(workers)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        rec = {"age": 35, "annual_income": 52000.0, "loan_amount": 12000.0, "term_months": 36,
               "interest_rate": 11.5, "credit_score": 690, "employment_years": 4.0,
               "debt_to_income": 0.28, "num_credit_lines": 6, "delinquencies_2y": 0,
               "home_ownership": "rent", "purpose": "debt_consolidation",
               "region": "northeast", "has_cosigner": False}
        ids = []
        for _ in range(20):
            r = httpx.post(f"{url}/v1/models/loan-default/predict", json=rec, timeout=10)
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        bad = httpx.post(f"{url}/v1/models/loan-default/predict", json={**rec, "age": "x"})
        assert bad.status_code == 422
        fb = httpx.post(f"{url}/v1/models/loan-default/feedback",
                        json={"request_id": ids[0], "label": 1}, timeout=10)
        assert fb.status_code == 200, fb.text
        metrics = httpx.get(f"{url}/metrics").text
        assert "rampup_requests_total" in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    store = Database.open(f"sqlite:///{proj / 'rampup.db'}")
    assert store.predictions.count_predictions("loan-default") == 20  # drained on shutdown
    assert store.feedback.list_feedback(ids[0])[0].value == 1
    store.close()
