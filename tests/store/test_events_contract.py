"""Events repository contract: the audit trail.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from rampup.store import Database


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


def test_events_by_actor_action_prefix_and_time(store: Database) -> None:
    store.events.add_event("admin:ci", "admin.request", details={"path": "/v1/x"})
    store.events.add_event("admin:ci", "admin.token_added")
    store.events.add_event("alice", "admin_like")  # not under the "admin." prefix
    store.events.add_event("alice", "deploy", model="m")
    assert [e.action for e in store.events.list_events(action="admin.*")] == [
        "admin.token_added", "admin.request"]
    assert [e.action for e in store.events.list_events(actor="alice")] == ["deploy",
                                                                            "admin_like"]
    assert store.events.list_events(action="admin_%*") == []  # LIKE characters are literal
    newest = store.events.list_events(limit=1)[0]
    assert [e.id for e in store.events.list_events(since=newest.ts)][-1] <= newest.id
