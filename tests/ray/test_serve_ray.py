"""``rampup serve --engine ray`` for real: a subprocess on the session's Ray cluster, two
Ray Serve replicas from rampup.yaml, predict and feedback on the real HTTP port, every
prediction logged by the replicas' own log writers, and a clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rampup.cli import app
from rampup.store import Database
from tests.cli.test_init_serve import _wait_ready
from tests.pg_cluster import free_port
from tests.ray.conftest import RayCluster

RECORD = {"age": 35, "annual_income": 52000.0, "loan_amount": 12000.0, "term_months": 36,
          "interest_rate": 11.5, "credit_score": 690, "employment_years": 4.0,
          "debt_to_income": 0.28, "num_credit_lines": 6, "delinquencies_2y": 0,
          "home_ownership": "rent", "purpose": "debt_consolidation",
          "region": "northeast", "has_cosigner": False}


@pytest.mark.slow
def test_serve_on_ray_serve_answers_and_logs(tmp_path: Path, ray_cluster: RayCluster) -> None:
    proj = tmp_path / "proj"
    assert CliRunner().invoke(app, ["init", str(proj), "--example"]).exit_code == 0
    subprocess.run([sys.executable, "example/train.py"], cwd=proj, check=True,
                   capture_output=True)
    with (proj / "rampup.yaml").open("a") as f:
        f.write("ray:\n  replicas: 2\n  num_cpus: 0.5\n")
    port = free_port()
    env = {**ray_cluster.env(), "RAMPUP_LOG_FLUSH_INTERVAL": "0.05"}
    env.pop("RAMPUP_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rampup", "-p", str(proj), "serve", "--engine", "ray",
         "--ray-address", ray_cluster.address, "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        ids = []
        for _ in range(20):
            r = httpx.post(f"{url}/v1/models/loan-default/predict", json=RECORD, timeout=30)
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        bad = httpx.post(f"{url}/v1/models/loan-default/predict", json={**RECORD, "age": "x"},
                         timeout=30)
        assert bad.status_code == 422
        assert "age" in bad.text
        fb = httpx.post(f"{url}/v1/models/loan-default/feedback",
                        json={"request_id": ids[0], "label": 1}, timeout=30)
        assert fb.status_code == 200, fb.text
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, output
    store = Database.open(f"sqlite:///{proj / 'rampup.db'}")
    assert store.predictions.count_predictions("loan-default") == 20  # drained on shutdown
    assert store.feedback.list_feedback(ids[0])[0].value == 1
    store.close()
