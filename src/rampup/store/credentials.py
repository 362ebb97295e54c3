"""Credentials and secrets.

Only digests of tokens are kept (see :mod:`rampup.security.tokens`); a revoked token
keeps its row (the audit trail names it) but matches nothing.
"""

from __future__ import annotations

import secrets as _secrets
import time
from typing import Any

import sqlalchemy as sa

from rampup.errors import ConflictError, NotFoundError
from rampup.store import schema as t
from rampup.store.transactions import Repository


class SqlCredentials(Repository):
    """Named token digests and per-project secrets."""


    def add_token(self, kind: str, name: str, token_hash: str, *, role: str | None = None,
                  actor: str = "") -> dict[str, Any]:
        """A new named token; an active one of the same kind and name is a conflict
        (rotate: add a second name, move clients over, revoke the first)."""
        tk = t.tokens
        now = time.time()
        with self.db.begin() as conn:
            active = conn.execute(sa.select(tk.c.id).where(
                tk.c.kind == kind, tk.c.name == name, tk.c.revoked_at.is_(None))).first()
            if active is not None:
                raise ConflictError(f"an active {kind} token named {name!r} exists",
                                    fix="revoke it first or choose another name", field="name")
            conn.execute(tk.insert().values(kind=kind, name=name, role=role,
                                            token_hash=token_hash, created_at=now,
                                            created_by=actor))
        return {"kind": kind, "name": name, "role": role, "created_at": now}

    def find_token(self, token_hash: str) -> dict[str, Any] | None:
        """The active token with this digest, or None."""
        tk = t.tokens
        q = sa.select(tk.c.kind, tk.c.name, tk.c.role).where(
            tk.c.token_hash == token_hash, tk.c.revoked_at.is_(None))
        with self.db.reading() as conn:
            row = conn.execute(q).first()
        return None if row is None else dict(row._mapping)

    def list_tokens(self, kind: str | None = None, *,
                    include_revoked: bool = False) -> list[dict[str, Any]]:
        tk = t.tokens
        q = sa.select(tk.c.kind, tk.c.name, tk.c.role, tk.c.created_at, tk.c.created_by,
                      tk.c.revoked_at).order_by(tk.c.kind, tk.c.name, tk.c.id)
        if kind is not None:
            q = q.where(tk.c.kind == kind)
        if not include_revoked:
            q = q.where(tk.c.revoked_at.is_(None))
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def count_tokens(self, kind: str) -> int:
        tk = t.tokens
        q = sa.select(sa.func.count()).select_from(tk).where(
            tk.c.kind == kind, tk.c.revoked_at.is_(None))
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def revoke_token(self, kind: str, name: str) -> None:
        tk = t.tokens
        with self.db.begin() as conn:
            n = conn.execute(tk.update().where(
                tk.c.kind == kind, tk.c.name == name, tk.c.revoked_at.is_(None)
            ).values(revoked_at=time.time())).rowcount
        if not n:
            group = "tokens" if kind == "admin" else "reviewers"
            raise NotFoundError(f"no active {kind} token named {name!r}",
                                fix=f"list them with 'rampup {group} list'", field="name")

    def secret(self, name: str) -> str:
        """A per-project secret, made on first use (every replica reads the same one)."""
        s = t.secrets
        with self.db.begin() as conn:
            conn.execute(self.db.insert_ignore(s, ["name"]).values(
                name=name, value=_secrets.token_hex(32), created_at=time.time()))
            return str(conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar_one())
