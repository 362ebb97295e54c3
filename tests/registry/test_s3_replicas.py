"""Done-when of issue 22 (artifacts): a version registered by one process (the real CLI)
into a real S3-compatible server (moto, started on 127.0.0.1) is served by two app
replicas with separate local cache folders, on one shared PostgreSQL store; an object
tampered with in the bucket is refused on load, never served."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
import s3fs

from rampup.errors import ModelError
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.app_client import app_client
from tests.s3server import S3Server
from tests.serving.conftest import fit, make_frame, make_settings, record

pytestmark = pytest.mark.postgres


def _register(tmp_path: Path, pg_url: str, url: str, server: S3Server) -> None:
    joblib.dump(fit(make_frame(800, seed=1), 1.0), tmp_path / "credit.joblib")
    make_frame(800, seed=2).to_parquet(tmp_path / "ref.parquet", index=False)
    env = {**os.environ, **server.env(), "RAMPUP_DATABASE_URL": pg_url,
           "RAMPUP_ARTIFACTS_DIR": url,
           "RAMPUP_ARTIFACT_CACHE_DIR": str(tmp_path / "cache-registrar")}
    done = subprocess.run(
        [sys.executable, "-m", "rampup", "register", "credit", str(tmp_path / "credit.joblib"),
         "--reference", str(tmp_path / "ref.parquet"), "--label-column", "y"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


async def test_two_replicas_serve_a_version_registered_on_a_third(
        tmp_path: Path, pg_url: str, s3_server: S3Server, s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/artifacts"
    _register(tmp_path / "", pg_url, url, s3_server)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    assert fs.exists(f"{s3_bucket}/artifacts/credit/v1/credit.joblib")
    frame = make_frame(20, seed=3)
    records = [record(frame, i) for i in range(20)]
    answers = []
    for name in ("replica-a", "replica-b"):
        home = tmp_path / name
        home.mkdir()
        settings = make_settings(home, database_url=pg_url, artifacts_dir=url,
                                 artifact_cache_dir=home / "cache")
        store = Database.open(pg_url)
        try:
            async with app_client(settings, store) as client:
                r = await client.post("/v1/models/credit/predict", json=records)
                assert r.status_code == 200, r.text
                answers.append([p["prediction"] for p in r.json()["predictions"]])
                assert r.json()["version"] == "v1"
            digest = Registry.from_settings(settings, store).get("credit", "v1").artifact_hash
        finally:
            store.close()
        cached = home / "cache" / digest.removeprefix("sha256:") / "credit.joblib"
        assert cached.is_file()
        assert not (home / "artifacts").exists()  # nothing but the cache on this disk
    assert answers[0] == answers[1]

    # the object changes in the bucket: a replica with an empty cache refuses it
    fs.pipe_file(f"{s3_bucket}/artifacts/credit/v1/credit.joblib", b"not the model")
    home = tmp_path / "replica-c"
    home.mkdir()
    settings = make_settings(home, database_url=pg_url, artifacts_dir=url,
                             artifact_cache_dir=home / "cache")
    store = Database.open(pg_url)
    try:
        registry = Registry.from_settings(settings, store)
        with pytest.raises(ModelError, match="does not match the hash recorded"):
            registry.load(registry.get("credit", "v1"))
        async with app_client(settings, store) as client:
            r = await client.post("/v1/models/credit/predict", json=records)
            assert r.status_code >= 500
            assert "does not match the hash" in r.text
    finally:
        store.close()
    assert not any((home / "cache").glob("*/credit.joblib"))
