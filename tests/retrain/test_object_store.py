"""Retraining on the leader registers its candidate into the object store (a real S3
server, moto on 127.0.0.1); a replica with its own empty cache loads and serves it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import s3fs

from rampup.registry.objectstore import ObjectArtifactStore
from rampup.registry.registry import Registry
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema
from rampup.store import Database
from tests.retrain.conftest import World, drifted, make_project
from tests.serving.conftest import Trained, make_frame


@pytest.mark.slow
def test_a_retrained_version_reaches_a_replica_through_the_bucket(
        sqlite_store: Database, tmp_path: Path, trained: Trained,
        s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/artifacts"
    leader = Registry(sqlite_store, ObjectArtifactStore(url, tmp_path / "leader-cache"))
    leader.register("credit", trained.model_path, reference=trained.reference_path,
                    label_column="y")
    world = World(sqlite_store, leader, trained, tmp_path)
    world.log(drifted(600, seed=5), ts=time.time() - 600)
    r = world.retrainer(make_project(trained.reference_path))
    done = r.execute(r.request("credit", actor="alice", reason="drift")["id"])
    assert done["candidate"] == "v2", (done["error"], done["reasons"])
    v2 = leader.get("credit", "v2")
    name = v2.artifact_uri.rsplit("/", 1)[-1]
    assert s3fs.S3FileSystem(skip_instance_cache=True).exists(
        f"{s3_bucket}/artifacts/credit/v2/{name}")

    replica = Registry(sqlite_store, ObjectArtifactStore(url, tmp_path / "replica-cache"))
    frame = make_frame(50, seed=9).drop(columns="y")
    batch = reference_batch(frame, InputSchema.from_dict(v2.input_schema), 50)
    served = replica.load(replica.get("credit", "v2")).predict(batch)
    assert served.predictions == leader.load(v2).predict(batch).predictions
    assert (tmp_path / "replica-cache" / v2.artifact_hash.removeprefix("sha256:")).is_dir()


@pytest.mark.slow
def test_a_run_kept_in_a_bucket_workspace_is_erased_there_too(
        world: World, s3_bucket: str) -> None:
    import pandas as pd

    from rampup.security.erase import erase_from_datasets

    ids = world.log(drifted(400, seed=6), ts=time.time() - 600)
    workspace = f"s3://{s3_bucket}/retrain"
    r = world.retrainer(make_project(world.trained.reference_path, workspace=workspace))
    done = r.execute(r.request("credit", actor="alice", reason="drift")["id"])
    assert done["candidate"] == "v2", (done["error"], done["reasons"])
    assert done["run_dir"] == f"{workspace}/credit/run-{done['id']}"
    train_url = done["dataset"]["path"]
    assert train_url == f"{done['run_dir']}/train.parquet"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    with fs.open(train_url, "rb") as f:
        before = len(pd.read_parquet(f))

    subject = [row for chunk in world.store.predictions.iter_predictions(
        "credit", with_labels=False) for row in chunk if row["id"] in set(ids[:5])]
    erased = erase_from_datasets(world.store, subject)
    assert erased["rows"] >= 1
    with fs.open(train_url, "rb") as f:
        after = len(pd.read_parquet(f))
    with fs.open(done["dataset"]["holdout_path"], "rb") as f:
        held = len(pd.read_parquet(f))
    assert before - after + (done["dataset"]["rows"]["holdout"] - held) == erased["rows"]
