"""Alert rules, their current states and their history. Rows are plain dicts;
:mod:`rampup.alerts` turns them into rules.

Rules are unique per (model, name) and come from the project file (``source='project'``,
re-synced on start) or from the admin API/CLI (``source='runtime'``, never touched by a
sync).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rampup.errors import ConflictError
from rampup.store import schema as t
from rampup.store.transactions import Repository


@dataclass
class RuleSync:
    """What :meth:`SqlAlerts.sync_alert_rules` changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)  # a runtime rule has the name


class SqlAlerts(Repository):
    """Rules unique per (model, name), states per (model, rule), history append-only."""


    # -- rules --------------------------------------------------------------------------

    def add_alert_rule(self, model: str, name: str, spec: dict[str, Any], *, source: str,
                       enabled: bool = True, actor: str = "", replace: bool = False) -> None:
        """Insert a rule; with ``replace`` an existing one of that name is overwritten."""
        now = time.time()
        r = t.alert_rules
        try:
            with self.db.begin() as conn:
                existing = conn.execute(sa.select(r.c.id, r.c.source).where(
                    r.c.model == model, r.c.name == name).with_for_update()).first()
                if existing is not None and not replace:
                    raise ConflictError(
                        f"alert rule {model}/{name} already exists ({existing.source})",
                        fix="choose another name, remove it first, or replace it")
                values = {"source": source, "enabled": enabled, "spec": spec,
                          "updated_at": now, "actor": actor}
                if existing is None:
                    conn.execute(r.insert().values(model=model, name=name, created_at=now,
                                                   **values))
                else:
                    conn.execute(r.update().where(r.c.id == existing.id).values(**values))
        except sa.exc.IntegrityError:
            raise ConflictError(f"alert rule {model}/{name} was added meanwhile",
                                fix="list the rules and try again") from None

    def sync_alert_rules(self, rules: Mapping[str, Sequence[tuple[str, dict[str, Any], bool]]],
                         *, actor: str = "project") -> RuleSync:
        """Make the project rules match ``rules`` (model -> [(name, spec, enabled)]).

        Runtime rules are left alone (one with a project rule's name overrides it). An
        existing project rule keeps its enabled flag (an operator may have toggled it)."""
        out = RuleSync()
        now = time.time()
        r = t.alert_rules
        with self.db.begin() as conn:
            rows = {(row.model, row.name): row for row in conn.execute(sa.select(r))}
            wanted: set[tuple[str, str]] = set()
            for model, items in rules.items():
                for name, spec, enabled in items:
                    key = (model, name)
                    wanted.add(key)
                    row = rows.get(key)
                    if row is None:
                        conn.execute(self.db.insert_ignore(r, ["model", "name"]).values(
                            model=model, name=name, source="project", enabled=enabled,
                            spec=spec, created_at=now, updated_at=now, actor=actor))
                        out.added.append(f"{model}/{name}")
                    elif row.source != "project":
                        out.overridden.append(f"{model}/{name}")
                    elif row.spec != spec:
                        conn.execute(r.update().where(r.c.id == row.id).values(
                            spec=spec, updated_at=now, actor=actor))
                        out.updated.append(f"{model}/{name}")
            gone = [row for key, row in rows.items()
                    if row.source == "project" and key not in wanted]
            for row in gone:
                conn.execute(r.delete().where(r.c.id == row.id))
                out.removed.append(f"{row.model}/{row.name}")
        return out

    def get_alert_rule(self, model: str, name: str) -> dict[str, Any] | None:
        r = t.alert_rules
        with self.db.reading() as conn:
            row = conn.execute(sa.select(r).where(r.c.model == model, r.c.name == name)).first()
        return None if row is None else dict(row._mapping)

    def list_alert_rules(self, model: str | None = None, *,
                         enabled_only: bool = False) -> list[dict[str, Any]]:
        r = t.alert_rules
        q = sa.select(r).order_by(r.c.model, r.c.name)
        if model is not None:
            q = q.where(r.c.model == model)
        if enabled_only:
            q = q.where(r.c.enabled == sa.true())
        with self.db.reading() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def delete_alert_rule(self, model: str, name: str) -> bool:
        r = t.alert_rules
        with self.db.begin() as conn:
            gone = conn.execute(r.delete().where(r.c.model == model, r.c.name == name)
                                .returning(r.c.id)).first() is not None
            conn.execute(t.alert_states.delete().where(t.alert_states.c.model == model,
                                                       t.alert_states.c.rule == name))
        return gone

    def set_alert_rule_enabled(self, model: str, name: str, enabled: bool,
                               actor: str = "") -> bool:
        r = t.alert_rules
        with self.db.begin() as conn:
            return conn.execute(r.update().where(r.c.model == model, r.c.name == name).values(
                enabled=enabled, updated_at=time.time(), actor=actor
            ).returning(r.c.id)).first() is not None

    # -- states -------------------------------------------------------------------------

    def alert_states(self, model: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """(model, rule) -> the state document last saved."""
        s = t.alert_states
        q = sa.select(s)
        if model is not None:
            q = q.where(s.c.model == model)
        with self.db.reading() as conn:
            return {(row.model, row.rule): dict(row.data) for row in conn.execute(q)}

    def save_alert_states(self, states: Iterable[tuple[str, str, str, float | None,
                                                       dict[str, Any]]]) -> None:
        """Upsert (model, rule, state, since, data) rows in one transaction."""
        s = t.alert_states
        now = time.time()
        with self.db.begin() as conn:
            for model, rule, state, since, data in states:
                values = {"state": state, "since": since, "updated_at": now, "data": data}
                done = conn.execute(s.update().where(s.c.model == model, s.c.rule == rule)
                                    .values(**values).returning(s.c.rule)).first()
                if done is None:
                    conn.execute(self.db.insert_ignore(s, ["model", "rule"]).values(
                        model=model, rule=rule, **values))

    # -- history ------------------------------------------------------------------------

    def add_alert_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append history rows: model, rule, ts, kind, state, value, threshold, severity,
        message, details."""
        if not rows:
            return
        full = [{"state": None, "value": None, "threshold": None, "severity": None,
                 "message": "", "details": {}, **row} for row in rows]
        with self.db.begin() as conn:
            conn.execute(t.alert_events.insert(), full)

    def list_alert_events(self, model: str | None = None, rule: str | None = None, *,
                          since: float | None = None, until: float | None = None,
                          kinds: Sequence[str] | None = None, limit: int | None = 200,
                          oldest_first: bool = False) -> list[dict[str, Any]]:
        """Newest first unless ``oldest_first``."""
        e = t.alert_events
        q = sa.select(e).order_by(e.c.id if oldest_first else e.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        if model is not None:
            q = q.where(e.c.model == model)
        if rule is not None:
            q = q.where(e.c.rule == rule)
        if since is not None:
            q = q.where(e.c.ts >= since)
        if until is not None:
            q = q.where(e.c.ts < until)
        if kinds:
            q = q.where(e.c.kind.in_(list(kinds)))
        with self.db.reading() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]
