"""``rampup demo`` end to end: project, training, registry, live server, traffic, shutdown."""

from __future__ import annotations

import io
import os
import signal
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import Settings
from rampup.errors import ConflictError, RampupError
from rampup.scaffold import scaffold
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.runner import MARKER, DemoResult, prepare_project, run_demo
from rampup_demo.server import BackgroundServer, bind_port

MODEL = "loan-default"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


def open_store(result: DemoResult) -> Database:
    return Database.open(f"sqlite:///{result.directory / 'rampup.db'}")


@dataclass
class FirstRun:
    result: DemoResult
    output: str
    token: str
    tokens_mode: int


def token_of(path: Path) -> str:
    return path.read_text().split("RAMPUP_ADMIN_TOKEN=")[1].strip()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """One fast demo run (small training set, 2.5 s of traffic) shared by the tests below."""
    c, out = console()
    result = run_demo(tmp_path_factory.mktemp("demo") / "demo-project", port=0, duration=2.5,
                      rate=30, console=c, n_train=1000, status_every=1.0)
    mode = stat.S_IMODE(result.tokens_file.stat().st_mode)
    return FirstRun(result, out.getvalue(), token_of(result.tokens_file), mode)


def test_fast_end_to_end_run(first_run: FirstRun) -> None:
    r, text = first_run.result, first_run.output
    assert not r.reused
    s = r.stats
    assert 0 < s.sent <= 80  # 2.5 s at 30/s at most (fewer on a loaded machine)
    assert s.unexpected_errors == 0
    assert r.predictions_logged == s.ok + 1  # + the example prediction behind the tour
    # the traffic's labels, plus the reviewer's decisions on requests without one
    assert s.labels_sent <= r.labels_joined <= s.labels_sent + r.reviewed
    assert s.labels_sent > 0
    assert r.total_predictions == r.predictions_logged
    store = open_store(r)
    try:
        versions = {v.version: v for v in store.models.list_versions(MODEL)}
        assert set(versions) == {"v1", "v2", "v3"}  # v3: broken on purpose, never served
        assert versions["v1"].profile is not None
        assert versions["v2"].metadata["algorithm"] == "gradient_boosting"
        dep = store.deployments.current_deployment(MODEL)
        assert dep is not None
        assert dep.policy["routes"] == {"v1": 100.0}
    finally:
        store.close()
    for expected in (f"{r.url}/docs", f"{r.url}/metrics", f"{r.url}/readyz",
                     f"{r.url}/v1/models", "/feedback", "rampup versions",
                     f"rampup predict-batch {MODEL} data/batch_input.csv -o scored.parquet",
                     f"rampup log export {MODEL} --since 1h -o log.parquet",
                     "/v1/admin/models/loan-default/deployment", '"v2": 10',
                     "requests", "log queue", "summary", "with their label joined",
                     "rollout tour skipped: --duration 2.5 s is shorter than the tour",
                     "rampup deploy loan-default v2 --strategy canary --plan "
                     "plans/shadow-then-canary.yaml", "rampup rollback loan-default"):
        assert expected in text, expected


def test_tokens_file_is_private_and_in_the_tour(first_run: FirstRun) -> None:
    assert first_run.tokens_mode == 0o600
    assert len(first_run.token) >= 24
    assert f"Bearer {first_run.token}" in first_run.output


def test_second_run_reuses_the_project_and_keeps_the_policy(first_run: FirstRun) -> None:
    directory = first_run.result.directory
    store = open_store(first_run.result)
    try:  # as a user would in the tour: 10% to v2
        store.deployments.append_deployment(MODEL, {"routes": {"v1": 90.0, "v2": 10.0},
                                                    "mirrors": {},
                                                    "standby": None}, "test")
    finally:
        store.close()
    c, out = console()
    result = run_demo(directory, port=0, duration=1.0, rate=20, console=c, status_every=5)
    assert result.reused  # nothing trained or registered again
    text = out.getvalue()
    assert "reused v1 (logistic regression)" in text
    assert "v1 90%, v2 10%" in text
    assert result.predictions_logged > 0
    assert result.total_predictions > first_run.result.total_predictions
    token = token_of(result.tokens_file)
    assert token != first_run.token
    assert f"Bearer {token}" in text
    assert stat.S_IMODE(result.tokens_file.stat().st_mode) == 0o600


def test_ctrl_c_stops_cleanly(first_run: FirstRun) -> None:
    c, out = console()

    def interrupt_when_live() -> None:
        deadline = time.monotonic() + 30
        while "live status every" not in out.getvalue():
            if time.monotonic() > deadline:
                return  # never interrupt anything but a live demo
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_live, daemon=True).start()
    result = run_demo(first_run.result.directory, port=0, duration=None, rate=20, console=c)
    assert "stopping" in out.getvalue()
    assert "summary" in out.getvalue()
    assert result.stats.sent > 0
    assert result.predictions_logged == result.stats.ok + 1


def test_cli_demo_ignores_rampup_database_url(first_run: FirstRun,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPUP_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("RAMPUP_ADMIN_TOKEN", "from-the-environment")
    before = first_run.result.directory / "tokens.txt"
    outcome = CliRunner().invoke(app, ["demo", "--dir", str(first_run.result.directory),
                                       "--duration", "1", "--port", "0", "--rate", "10",
                                       "--no-tour"])
    assert outcome.exit_code == 0, outcome.output
    assert "summary" in outcome.output
    assert "rollout tour" not in outcome.output  # --no-tour: not even "skipped"
    assert "rampup.db" in outcome.output
    assert "from-the-environment" not in before.read_text()


@pytest.mark.slow
def test_full_size_run_then_a_fast_rerun(tmp_path: Path) -> None:
    c, _ = console()
    first = run_demo(tmp_path / "demo", port=0, duration=6, rate=30, console=c)
    # counts, not rates: a loaded machine sends fewer in 6 s (benchmarks measure speed)
    assert first.predictions_logged > 0
    assert 0 < first.labels_joined <= first.predictions_logged
    again = run_demo(tmp_path / "demo", port=0, duration=0.5, rate=30, console=c)
    assert again.reused  # the fast rerun: nothing trained or registered again


def test_a_busy_port_moves_to_the_next_one() -> None:
    taken = bind_port(0)
    taken.listen()
    port = taken.getsockname()[1]
    try:
        sock = bind_port(port)
        assert port < sock.getsockname()[1] <= port + 10
        sock.close()
        with pytest.raises(ConflictError, match="all in use"):
            bind_port(port, tries=1)
    finally:
        taken.close()


def test_the_server_reports_a_failed_start(tmp_path: Path) -> None:
    bad = Settings(project_dir=tmp_path, database_url="sqlite:////nonexistent/dir/x.db")
    server = BackgroundServer(create_app(bad), port=0)
    with pytest.raises(RampupError, match="did not start"):
        server.start(timeout=20)


def test_fresh_removes_only_what_the_demo_made(tmp_path: Path) -> None:
    d = tmp_path / "demo"
    assert prepare_project(d, fresh=False, rate=5, database_url=None) is False
    assert (d / MARKER).exists()
    assert "expected_qps: 5" in (d / "rampup.yaml").read_text()
    (d / "rampup.db").write_text("x")
    (d / "notes.txt").write_text("mine")
    assert prepare_project(d, fresh=False, rate=7, database_url=None) is True
    assert "expected_qps: 7" in (d / "rampup.yaml").read_text()
    assert prepare_project(d, fresh=True, rate=7, database_url=None) is False
    assert not (d / "rampup.db").exists()
    assert (d / "notes.txt").read_text() == "mine"


def test_a_project_the_demo_did_not_make_is_left_alone(tmp_path: Path) -> None:
    scaffold(tmp_path / "mine")
    with pytest.raises(ConflictError, match="did not create"):
        prepare_project(tmp_path / "mine", fresh=True, rate=5, database_url=None)
