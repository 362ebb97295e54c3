"""rampup deploy / rollout / promote / rollback through the CLI on a real project store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import load_settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.rollout.conftest import MODELS

runner = CliRunner()


def setup_project(tmp_path: Path) -> None:
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    reg = Registry.from_settings(settings, store)
    reg.register("m", f"{MODELS}:Healthy", version="v1")
    reg.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    store.close()


def run(tmp_path: Path, *args: str) -> str:
    result = runner.invoke(app, ["-p", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_lifecycle(tmp_path: Path) -> None:
    setup_project(tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text("strategy: canary\non_failure: pause\nsteps:\n  - canary: 10\n"
                    "  - approval: check the dashboards\n  - canary: 100\n"
                    "checks: [error_rate <= baseline + 0.01]\n")
    out = run(tmp_path, "deploy", "m", "v2", "--plan", str(plan), "-r", "new model")
    assert "rollout #1 started" in out
    assert "canary 10%" in out
    out = run(tmp_path, "rollout", "status", "m")
    assert "v2 10%, v1 90%" in out
    assert "▶ 1. canary 10%" in out
    assert "approval: check the dashboards" in out
    assert "paused" in run(tmp_path, "rollout", "pause", "m")
    assert "canary" in run(tmp_path, "rollout", "resume", "m")
    result = runner.invoke(app, ["-p", str(tmp_path), "rollout", "approve", "m"])
    assert result.exit_code == 2
    assert "nothing waits for approval" in result.output
    assert "promoted" in run(tmp_path, "promote", "m")
    out = run(tmp_path, "rollout", "status", "m", "--json")
    assert '"state": "promoted"' in out
    assert "rolled back" in run(tmp_path, "rollback", "m")
    assert "v1 100%" in run(tmp_path, "rollout", "status", "m")


def test_cli_errors(tmp_path: Path) -> None:
    setup_project(tmp_path)
    result = runner.invoke(app, ["-p", str(tmp_path), "deploy", "m", "v9"])
    assert result.exit_code == 2
    assert "v9 is not registered" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - canary: 150\n")
    result = runner.invoke(app, ["-p", str(tmp_path), "deploy", "m", "v2", "--plan", str(bad)])
    assert result.exit_code == 2
    assert "steps.0" in result.output
    result = runner.invoke(app, ["-p", str(tmp_path), "deploy", "nope", "v2"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = runner.invoke(app, ["-p", str(tmp_path), "rollback", "m"])
    assert result.exit_code == 2
    assert "no earlier deployment" in result.output
