"""`rampup versions` shows each version's experiment record beside it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import load_settings
from rampup.registry.registry import Registry
from rampup.store import Database

MODELS = Path(__file__).parent.parent / "rollout" / "fault_models.py"


def test_versions_show_metrics_and_audit(tmp_path: Path) -> None:
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    reg = Registry.from_settings(settings, store)
    reg.register("m", f"{MODELS}:Healthy", version="v1", metadata={"metrics": {"auc": 0.81}})
    reg.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    store.evaluations.add_evaluation("m", "v2", "evaluation", summary={"accuracy": 0.912,
                                                                       "roc_auc": 0.95},
                         result={})
    store.evaluations.add_evaluation("m", "v2", "audit", summary={}, result={}, passed=False)
    store.close()
    out = CliRunner().invoke(app, ["-p", str(tmp_path), "versions", "m"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    lines = {line.split()[1]: line for line in out.output.splitlines()[1:] if line.strip()}
    assert "auc 0.81" in lines["v1"]
    assert "accuracy 0.912" in lines["v2"]
    assert "roc_auc 0.95" in lines["v2"]
    assert "fail" in lines["v2"]
    assert "100%" in lines["v1"]


def test_versions_piped_keeps_whole_rows(tmp_path: Path) -> None:
    """Piped (not a terminal, no COLUMNS), the table is not cut to 80 columns."""
    import os
    import subprocess
    import sys

    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    reg = Registry.from_settings(settings, store)
    reg.register("a-rather-long-model-name", f"{MODELS}:Healthy", version="v1",
                 metadata={"metrics": {"accuracy": 0.91, "roc_auc": 0.87, "f1_macro": 0.8}})
    store.close()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")
           and not k.startswith("RAMPUP_")}
    out = subprocess.run([sys.executable, "-m", "rampup", "-p", str(tmp_path), "versions"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    [row] = [line for line in out.stdout.splitlines() if "a-rather-long-model-name" in line]
    assert len(row) > 80
    assert "accuracy 0.91, roc_auc 0.87, f1_macro 0.8" in row
    assert "…" not in out.stdout
