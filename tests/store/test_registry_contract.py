"""Store contract, registry side: models, versions, deployments, audit events.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import dataclasses

import pytest

from rampup.errors import ConflictError, NotFoundError
from rampup.store import Database, VersionRecord


def version(model: str, name: str, seq: int, *, artifact_hash: str = "sha256:aa") -> VersionRecord:
    return VersionRecord(
        model=model, version=name, seq=seq, flavor="sklearn",
        artifact_uri=f"artifacts/{model}/{name}.joblib", artifact_hash=artifact_hash,
        input_schema={"features": [{"name": "age", "type": "float"}]},
        output={"kind": "class", "classes": [0, 1]},
        profile=None, metadata={"metrics": {"auc": 0.81}, "params": {"C": 1.0}},
        created_at=1_700_000_000.5 + seq, created_by="tester",
    )


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


# -- deployments ------------------------------------------------------------------------------

def test_deployments_are_an_append_only_history(store: Database) -> None:
    store.models.ensure_model("m")
    assert store.deployments.current_deployment("m") is None
    assert store.deployments.deployment_history("m") == []
    policies = [{"routes": {"v1": 100}}, {"routes": {"v1": 95, "v2": 5}},
                {"routes": {"v2": 100}, "mirrors": ["v1"]}]
    made = [store.deployments.append_deployment("m", p, actor="alice", reason=f"step {i}")
            for i, p in enumerate(policies)]
    assert [d.id for d in made] == sorted({d.id for d in made})
    history = store.deployments.deployment_history("m")
    assert [d.policy for d in history] == policies[::-1]  # newest first
    assert history[0] == made[-1]
    assert store.deployments.current_deployment("m") == made[-1]
    assert [d.reason for d in store.deployments.deployment_history("m", limit=2)] == ["step 2",
                                                                                      "step 1"]
    # Rolling back is appending the previous policy again: history only grows.
    back = store.deployments.append_deployment("m", policies[1], actor="bob", reason="rollback")
    assert store.deployments.current_deployment("m") == back
    assert len(store.deployments.deployment_history("m")) == 4


def test_latest_deployment_ids_per_model(store: Database) -> None:
    assert store.deployments.latest_deployment_ids() == {}
    for name in ("a", "b", "c"):
        store.models.ensure_model(name)
    a1 = store.deployments.append_deployment("a", {"routes": {"v1": 100}}, actor="x")
    b1 = store.deployments.append_deployment("b", {"routes": {"v1": 100}}, actor="x")
    a2 = store.deployments.append_deployment("a", {"routes": {"v2": 100}}, actor="x")
    assert store.deployments.latest_deployment_ids() == {"a": a2.id, "b": b1.id}
    assert a2.id > a1.id


def test_deployment_of_unknown_model_is_not_found(store: Database) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        store.deployments.append_deployment("ghost", {"routes": {}}, actor="x")
    assert store.deployments.latest_deployment_ids() == {}


# -- events ---------------------------------------------------------------------------------

def test_events_newest_first_with_model_filter_and_limit(store: Database) -> None:
    assert store.events.list_events() == []
    store.events.add_event("alice", "register", model="m", version="v1", details={"hash": "aa"})
    store.events.add_event("alice", "deploy", model="m", details={"routes": {"v1": 100}})
    store.events.add_event("bob", "register", model="other", version="v1")
    store.events.add_event("ci", "migrate")
    events = store.events.list_events()
    assert [e.action for e in events] == ["migrate", "register", "deploy", "register"]
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
    assert events[0].model is None
    assert events[0].details == {}
    m_events = store.events.list_events(model="m")
    assert [(e.actor, e.action, e.version) for e in m_events] == [
        ("alice", "deploy", None), ("alice", "register", "v1")]
    assert m_events[1].details == {"hash": "aa"}
    assert [e.action for e in store.events.list_events(limit=2)] == ["migrate", "register"]
    assert all(e.ts > 1_600_000_000 for e in events)
