"""``rampup retrain`` and ``rampup replay`` through the CLI on a real project folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import load_settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.retrain.conftest import World, drifted, retrain_section
from tests.serving.conftest import Trained

runner = CliRunner()


def cli(tmp_path: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["-p", str(tmp_path), *args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.slow
def test_retrain_cli(tmp_path: Path, trained: Trained) -> None:
    section = retrain_section(reference=str(trained.reference_path), auto_rollout=False)
    (tmp_path / "rampup.yaml").write_text(yaml.safe_dump(
        {"models": {"credit": {"retrain": section}}}))
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    registry = Registry.from_settings(settings, store)
    registry.register("credit", trained.model_path, reference=trained.reference_path,
                      label_column="y")
    World(store, registry, trained, tmp_path).log(drifted(300, seed=41), ts=time.time() - 60)
    store.close()

    out = cli(tmp_path, "retrain", "status")
    assert "allowed" in out
    assert "300" in out
    out = cli(tmp_path, "retrain", "credit", "--since", "1h", "-r", "by hand")
    assert "✓ dataset: 2210 training rows (2000 reference + 300 labelled" in out
    assert "✓ registered credit@v2" in out
    assert "agreement with production" in out
    assert "run #1 of credit: awaiting approval" in out
    assert "approve with: rampup retrain approve 1" in out
    assert "#1" in cli(tmp_path, "retrain", "list")
    shown = json.loads(cli(tmp_path, "retrain", "show", "1", "--json"))
    assert shown["state"] == "awaiting_approval"
    assert shown["trigger"] == "manual"
    assert "training tests.retrain.entry:train" in cli(tmp_path, "retrain", "show", "1", "--log")
    out = cli(tmp_path, "replay", "credit", "v2", "--last", "100")
    assert "credit@v2 on the last 100 requests" in out
    assert "accuracy on 100 labelled" in out
    replayed = json.loads(cli(tmp_path, "replay", "credit", "v2", "--last", "10", "--json"))
    assert replayed["compared"] == 10
    queued = cli(tmp_path, "retrain", "credit", "--queue", "--force")
    assert "retraining run #2 queued" in queued
    out = cli(tmp_path, "retrain", "credit", "--force", code=2)
    assert "run #2 is queued; one run at a time" in out
    out = cli(tmp_path, "retrain", "approve", "1")
    assert "rolled out" in out
    assert "rollout: #1" in out
    assert json.loads(cli(tmp_path, "retrain", "status", "credit", "--json"))[0]["guard"] == \
        "concurrent_run"
    out = cli(tmp_path, "retrain", "approve", "1", code=2)
    assert "only a run awaiting approval" in out
