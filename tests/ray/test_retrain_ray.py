"""``rampup retrain MODEL --engine ray`` through the real CLI on the session's Ray cluster:
the training job runs as a Ray task (in its own folder on the node), the new version goes
into the S3 bucket holding the artifacts (moto on 127.0.0.1), the run's files are kept in
an ``s3://`` workspace, and a crashing entry point fails the run with the same error as
the local engine records."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import s3fs
import yaml
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import load_settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.ray.conftest import RayCluster
from tests.retrain.conftest import ENTRY, ROOT, World, drifted, retrain_section
from tests.serving.conftest import Trained, trained  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow  # a Ray task and a training subprocess


def _project(folder: Path, trained: Trained, bucket: str,  # noqa: F811
             entry: str = "train") -> None:
    section = retrain_section(reference=str(trained.reference_path), auto_rollout=False,
                              entry_point=f"{ENTRY}:{entry}", engine="ray",
                              workspace=f"s3://{bucket}/retrain")
    (folder / "rampup.yaml").write_text(yaml.safe_dump({
        "artifacts_dir": f"s3://{bucket}/artifacts",
        "models": {"credit": {"retrain": section}}}))


def test_retraining_runs_as_a_ray_task_into_the_bucket(
        tmp_path: Path, trained: Trained, s3_bucket: str,  # noqa: F811
        ray_cluster: RayCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{ROOT / 'src'}")  # the entry point's package
    _project(tmp_path, trained, s3_bucket)
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    registry = Registry.from_settings(settings, store)
    registry.register("credit", trained.model_path, reference=trained.reference_path,
                      label_column="y")
    World(store, registry, trained, tmp_path).log(drifted(300, seed=41), ts=time.time() - 60)

    def cli(*args: str) -> str:
        return CliRunner().invoke(app, ["-p", str(tmp_path), *args]).output

    out = cli("retrain", "credit", "--engine", "ray", "--ray-address", ray_cluster.address)
    assert "✓ registered credit@v2" in out, out
    run = json.loads(cli("retrain", "show", "1", "--json"))
    assert run["state"] == "awaiting_approval", run["error"]
    assert run["details"]["engine"] == "ray"
    assert "saved to /tmp/rampup-train-" in run["log_tail"]  # the task's own folder
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    assert run["run_dir"] == f"s3://{s3_bucket}/retrain/credit/run-1"
    kept = {p.rsplit("/", 1)[-1] for p in fs.ls(f"{s3_bucket}/retrain/credit/run-1")}
    assert {"train.parquet", "holdout.parquet", "model.joblib", "metrics.json",
            "train.log", "params.json"} <= kept
    v2 = registry.get("credit", "v2")
    assert fs.exists(f"{s3_bucket}/artifacts/credit/v2/{v2.artifact_uri.rsplit('/', 1)[-1]}")
    assert v2.metadata["metrics"]["holdout_accuracy"] > 0.5

    _project(tmp_path, trained, s3_bucket, entry="crash")  # engine ray from rampup.yaml
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    out = cli("retrain", "credit", "--force")
    failed = json.loads(cli("retrain", "show", "2", "--json"))
    assert failed["state"] == "failed", out
    assert "exited with code 1: RuntimeError: cannot train on" in failed["error"]
    assert fs.exists(f"{s3_bucket}/retrain/credit/run-2/train.log")
    store.close()
