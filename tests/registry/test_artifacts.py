"""The artifact store: copies, content hashes, URIs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.registry.artifacts import ArtifactStore, hash_path


def test_put_file_copies_and_hashes_the_bytes(tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00weights\xff" * 1000)
    store = ArtifactStore(tmp_path / "store")
    uri, digest = store.put("churn", "v1", src)
    assert uri == "artifacts:churn/v1/model.bin"
    assert digest == "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()
    copy = store.path(uri)
    assert copy == tmp_path / "store" / "churn" / "v1" / "model.bin"
    assert copy.read_bytes() == src.read_bytes()
    assert not copy.stat().st_mode & 0o222


def test_put_folder_hash_covers_names_and_contents(tmp_path: Path) -> None:
    src = tmp_path / "mlmodel"
    (src / "sub").mkdir(parents=True)
    (src / "MLmodel").write_text("flavors: {}\n")
    (src / "sub" / "data.txt").write_text("abc")
    before = hash_path(src)
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    assert hash_path(src) == before, "bytecode caches do not change the hash"
    store = ArtifactStore(tmp_path / "store")
    uri, digest = store.put("m", "v1", src)
    assert digest == before
    assert (store.path(uri) / "sub" / "data.txt").read_text() == "abc"
    assert not (store.path(uri) / "__pycache__").exists()
    (src / "sub" / "data.txt").rename(src / "sub" / "renamed.txt")
    assert hash_path(src) != before
    (src / "sub" / "renamed.txt").rename(src / "sub" / "data.txt")
    (src / "sub" / "data.txt").write_text("abd")
    assert hash_path(src) != before


def test_put_refuses_to_overwrite_a_version(tmp_path: Path) -> None:
    src = tmp_path / "a.pkl"
    src.write_bytes(b"1")
    store = ArtifactStore(tmp_path / "store")
    store.put("m", "v1", src)
    with pytest.raises(ConflictError, match="already exists"):
        store.put("m", "v1", src)
    store.remove("m", "v1")
    store.put("m", "v1", src)
    assert not [p for p in (tmp_path / "store" / "m").iterdir() if p.name.startswith(".")]


def test_missing_source_and_bad_uris(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(NotFoundError, match="does not exist"):
        store.put("m", "v1", tmp_path / "nope.joblib")
    with pytest.raises(NotFoundError):
        hash_path(tmp_path / "nope")
    with pytest.raises(ValidationError, match="outside"):
        store.path("artifacts:../../etc/passwd")
    with pytest.raises(ValidationError, match="not an artifact-store URI"):
        store.path("/etc/passwd")


def test_a_folder_holding_the_store_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "project" / "artifacts")
    (tmp_path / "project" / "MLmodel").parent.mkdir()
    (tmp_path / "project" / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(ValidationError, match="contains the artifact store"):
        store.put("m", "v1", tmp_path / "project")
