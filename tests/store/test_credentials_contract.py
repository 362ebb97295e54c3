"""Credentials repository contract: named token digests and per-project secrets.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import pytest

from rampup.errors import ConflictError, NotFoundError
from rampup.store import Database


def test_tokens_are_named_found_by_digest_and_revoked(store: Database) -> None:
    made = store.credentials.add_token("admin", "ci", "d1", actor="alice")
    assert (made["kind"], made["name"], made["role"]) == ("admin", "ci", None)
    store.credentials.add_token("reviewer", "ana", "d2", role="ana", actor="alice")
    with pytest.raises(ConflictError, match="an active admin token named 'ci' exists"):
        store.credentials.add_token("admin", "ci", "d3")
    assert store.credentials.find_token("d2") == {"kind": "reviewer", "name": "ana",
                                                  "role": "ana"}
    assert store.credentials.find_token("nope") is None
    assert store.credentials.count_tokens("admin") == 1
    store.credentials.revoke_token("admin", "ci")
    assert store.credentials.find_token("d1") is None  # a revoked token matches nothing
    assert store.credentials.count_tokens("admin") == 0
    with pytest.raises(NotFoundError, match="no active admin token named 'ci'"):
        store.credentials.revoke_token("admin", "ci")
    store.credentials.add_token("admin", "ci", "d4")  # the name is free again
    assert [(t["kind"], t["name"]) for t in store.credentials.list_tokens()] == [
        ("admin", "ci"), ("reviewer", "ana")]
    kept = store.credentials.list_tokens("admin", include_revoked=True)
    assert [t["revoked_at"] is None for t in kept] == [False, True]


def test_a_secret_is_made_once_and_shared(store: Database) -> None:
    key = store.credentials.secret("privacy")
    assert len(key) == 64
    assert store.credentials.secret("privacy") == key
    assert store.credentials.secret("other") != key
