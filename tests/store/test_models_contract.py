"""Models repository contract: models and their immutable versions.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import dataclasses

import pytest

from rampup.errors import ConflictError, NotFoundError
from rampup.store import Database
from tests.store.rows import version

# -- models -------------------------------------------------------------------------------

def test_ensure_model_creates_once_and_is_idempotent(store: Database) -> None:
    first = store.models.ensure_model("churn", "predicts churn", {"automation": "full"})
    again = store.models.ensure_model("churn")
    assert again == first
    assert first.config == {"automation": "full"}
    assert first.description == "predicts churn"
    assert store.models.get_model("churn") == first
    assert [m.name for m in store.models.list_models()] == ["churn"]


def test_ensure_model_updates_config_and_description(store: Database) -> None:
    created = store.models.ensure_model("churn", "old", {"a": 1})
    updated = store.models.ensure_model("churn", "new", {"a": 2, "nested": {"b": [1, 2]}})
    assert updated.config == {"a": 2, "nested": {"b": [1, 2]}}
    assert updated.description == "new"
    assert updated.created_at == created.created_at
    # Omitted config/description keep what is stored.
    assert store.models.ensure_model("churn") == updated


def test_models_are_listed_by_name_and_unknown_is_none(store: Database) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.models.ensure_model(name)
    assert [m.name for m in store.models.list_models()] == ["alpha", "mid", "zeta"]
    assert store.models.get_model("nope") is None


# -- versions -------------------------------------------------------------------------------

def test_versions_round_trip_in_sequence_order(store: Database) -> None:
    store.models.ensure_model("m")
    store.models.ensure_model("other")
    assert store.models.next_version_seq("m") == 1
    v1 = store.models.add_version(version("m", "v1", 1))
    store.models.add_version(version("m", "v2", 2, artifact_hash="sha256:bb"))
    store.models.add_version(version("other", "v1", 1))
    assert store.models.next_version_seq("m") == 3
    assert store.models.next_version_seq("other") == 2
    assert store.models.get_version("m", "v1") == v1
    assert store.models.get_version("m", "v9") is None
    assert [v.version for v in store.models.list_versions("m")] == ["v1", "v2"]
    assert [(v.model, v.version) for v in store.models.list_versions()] == [
        ("m", "v1"), ("m", "v2"), ("other", "v1")]


def test_version_fields_survive_storage(store: Database) -> None:
    store.models.ensure_model("m")
    rec = dataclasses.replace(version("m", "v1", 1), profile={"age": {"bins": [0.0, 1.5]}})
    store.models.add_version(rec)
    assert store.models.get_version("m", "v1") == rec


def test_find_version_by_hash(store: Database) -> None:
    store.models.ensure_model("m")
    store.models.ensure_model("other")
    store.models.add_version(version("m", "v1", 1, artifact_hash="sha256:aa"))
    store.models.add_version(version("m", "v2", 2, artifact_hash="sha256:bb"))
    store.models.add_version(version("m", "v3", 3, artifact_hash="sha256:aa"))
    found = store.models.find_version_by_hash("m", "sha256:aa")
    assert found is not None
    assert found.version == "v1"
    assert store.models.find_version_by_hash("m", "sha256:cc") is None
    assert store.models.find_version_by_hash("other", "sha256:aa") is None


def test_duplicate_version_is_a_conflict(store: Database) -> None:
    store.models.ensure_model("m")
    store.models.add_version(version("m", "v1", 1))
    with pytest.raises(ConflictError, match="m@v1"):
        store.models.add_version(version("m", "v1", 2))
    with pytest.raises(ConflictError):  # same sequence number under another name
        store.models.add_version(version("m", "v2", 1))
    assert [v.version for v in store.models.list_versions("m")] == ["v1"]


def test_version_of_unknown_model_is_not_found(store: Database) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        store.models.add_version(version("ghost", "v1", 1))
    assert store.models.list_versions() == []
