"""The object-store artifact backend over fsspec's in-memory filesystem (the same code path
as S3; tests/registry/test_s3_replicas.py runs it against a real S3 server): copies are
fetched into a cache by content hash and verified, tampered copies are refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from rampup.config import Settings
from rampup.errors import ConflictError, ModelError, NotFoundError
from rampup.registry import ArtifactStore, Registry
from rampup.registry.artifacts import hash_path
from rampup.registry.objectstore import ObjectArtifactStore, open_artifacts
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema
from rampup.store import Database
from tests.registry.conftest import Trained


@pytest.fixture
def url() -> str:
    return f"memory://rampup-{uuid.uuid4().hex[:10]}/artifacts"


def test_a_version_is_fetched_into_another_cache_by_hash(url: str, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights" * 100)
    uri, digest = ObjectArtifactStore(url, tmp_path / "a").put("m", "v1", tmp_path / "m.bin")
    assert uri == "artifacts:m/v1/m.bin"
    assert digest == hash_path(tmp_path / "m.bin")
    fs = fsspec.filesystem("memory")
    assert fs.cat_file(url.removeprefix("memory://") + "/m/v1/m.bin") == b"weights" * 100
    other = ObjectArtifactStore(url, tmp_path / "b")
    local = other.pinned(digest).path(uri)
    assert local == tmp_path / "b" / digest.removeprefix("sha256:") / "m.bin"
    assert local.read_bytes() == b"weights" * 100


def test_folders_round_trip(url: str, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "MLmodel").write_text("flavor")
    (src / "sub" / "w.bin").write_bytes(b"\x00\x01")
    uri, digest = ObjectArtifactStore(url, tmp_path / "a").put("m", "v1", src)
    local = ObjectArtifactStore(url, tmp_path / "b").pinned(digest).path(uri)
    assert hash_path(local) == digest
    assert (local / "sub" / "w.bin").read_bytes() == b"\x00\x01"


def test_versions_are_immutable(url: str, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"x")
    store = ObjectArtifactStore(url, tmp_path / "a")
    store.put("m", "v1", tmp_path / "m.bin")
    with pytest.raises(ConflictError, match="already exists"):
        store.put("m", "v1", tmp_path / "m.bin")
    store.remove("m", "v1")
    store.put("m", "v1", tmp_path / "m.bin")


def test_a_tampered_object_is_refused_and_not_cached(url: str, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"good")
    uri, digest = ObjectArtifactStore(url, tmp_path / "a").put("m", "v1", tmp_path / "m.bin")
    fsspec.filesystem("memory").pipe_file(url.removeprefix("memory://") + "/m/v1/m.bin",
                                          b"evil")
    fresh = ObjectArtifactStore(url, tmp_path / "b")
    with pytest.raises(ModelError, match="does not match the hash recorded") as err:
        fresh.pinned(digest, "m@v1").path(uri)
    assert "m@v1" in err.value.message
    assert not any((tmp_path / "b").iterdir())  # nothing half-fetched stays in the cache


def test_a_changed_cached_copy_is_fetched_again(url: str, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"good")
    uri, digest = ObjectArtifactStore(url, tmp_path / "a").put("m", "v1", tmp_path / "m.bin")
    store = ObjectArtifactStore(url, tmp_path / "b")
    local = store.pinned(digest).path(uri)
    local.chmod(0o644)
    local.write_bytes(b"edited in the cache")
    assert store.pinned(digest).path(uri).read_bytes() == b"good"


def test_a_missing_object_says_where_it_was_looked_for(url: str, tmp_path: Path) -> None:
    store = ObjectArtifactStore(url, tmp_path / "b")
    with pytest.raises(NotFoundError, match="missing") as err:
        store.pinned("sha256:" + "0" * 64, "m@v9").path("artifacts:m/v9/m.bin")
    assert url in err.value.message


def test_locations_pick_the_backend(tmp_path: Path) -> None:
    assert type(open_artifacts(tmp_path / "a")) is ArtifactStore
    local = open_artifacts(f"file://{tmp_path / 'a'}")
    assert type(local) is ArtifactStore
    assert local.root == tmp_path / "a"
    remote = open_artifacts("memory://b/p", tmp_path / "cache")
    assert isinstance(remote, ObjectArtifactStore)
    assert remote.location == "memory://b/p"


def test_settings_keep_urls_and_resolve_folders(tmp_path: Path) -> None:
    s = Settings(project_dir=tmp_path, artifacts_dir="s3://bucket/prefix")
    assert s.resolved_artifacts_location == "s3://bucket/prefix"
    assert s.resolved_artifact_cache_dir == tmp_path / ".rampup" / "artifact-cache"
    s = Settings(project_dir=tmp_path, artifacts_dir="arts", artifact_cache_dir=Path("c"))
    assert s.resolved_artifacts_location == str(tmp_path / "arts")
    assert s.resolved_artifact_cache_dir == tmp_path / "c"


def test_registry_registers_into_the_bucket_and_loads_elsewhere(
        url: str, tmp_path: Path, loan: Trained, store: Database) -> None:
    one = Registry(store, ObjectArtifactStore(url, tmp_path / "cache-1"))
    record = one.register("loan", loan.path, reference=loan.reference,
                          label_column="default")
    assert record.artifact_uri == "artifacts:loan/v1/loan.joblib"
    two = Registry(store, ObjectArtifactStore(url, tmp_path / "cache-2"))
    rows = loan.frame.drop(columns="default")
    loaded = two.get("loan", "v1")
    batch = reference_batch(rows, InputSchema.from_dict(loaded.input_schema), 20)
    got = two.load(loaded).predict(batch).predictions
    assert got == loan.model.predict(rows.head(20)).tolist()
    assert (tmp_path / "cache-2" / record.artifact_hash.removeprefix("sha256:")).is_dir()
