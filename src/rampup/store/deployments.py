"""Deployments: the append-only history and the one fenced write every change of what is
served goes through.

:meth:`SqlDeployments.decide` applies a :class:`Change` only if the :class:`Fence` it was
decided on still holds. Its transaction starts by claiming the model row::

    UPDATE models SET deployment_id = deployment_id
     WHERE name = :model AND deployment_id = :seen      -- the compare-and-set

which takes SQLite's write lock / PostgreSQL's row lock, so every later check and write
in the transaction (the rollout's revision, who made the current deployment, the new
deployment row, the pointer, the events) sees a state no other decision can change
before it commits. A refused decision changes nothing: it is recorded as an info event
(``superseded``) and raised as :class:`~rampup.errors.SupersededError`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from rampup.errors import ConflictError, NotFoundError, SupersededError
from rampup.store import schema as t
from rampup.store.events import record_event
from rampup.store.records import DeploymentRecord
from rampup.store.transactions import Repository

ACTIVE_STATES = ("pending", "shadow", "canary", "bluegreen", "awaiting_approval", "paused")


@dataclass(frozen=True, slots=True)
class Fence:
    """What a decision was made on.

    ``deployment_id``: the model's current deployment when the decision was taken (None:
    the model had none). ``rollout_id``/``revision``: the rollout row it read. ``owned``:
    the current deployment must be one that rollout made (a promoted rollout's standby
    timer, a rollback after promotion). ``latest``: a person's direct write, applied on
    top of whatever is current (still serialised with every other decision).
    """

    deployment_id: int | None = None
    rollout_id: int | None = None
    revision: int | None = None
    owned: bool = False
    latest: bool = False


@dataclass(frozen=True)
class Change:
    """What a decision does. ``policy``: the traffic policy to serve (None: unchanged);
    a row is appended when it or its owner differs from the current one (``always``: in
    any case). ``owner``: the rollout the policy belongs to (``"new"``: the rollout this
    change creates). ``rollout``: column values for the fenced rollout (its revision goes
    up by one). ``new_rollout``: a rollout to create; the database refuses a second
    active one. ``events``: (action, version, details) recorded with the change."""

    actor: str
    reason: str
    policy: Mapping[str, Any] | None = None
    owner: int | Literal["new"] | None = None
    rollout: Mapping[str, Any] | None = None
    new_rollout: Mapping[str, Any] | None = None
    events: Sequence[tuple[str, str | None, Mapping[str, Any]]] = ()
    always: bool = False


@dataclass(frozen=True)
class Applied:
    deployment: DeploymentRecord | None  # the model's deployment after the change
    changed: bool  # a deployment row was appended
    rollout_id: int | None = None  # the rollout created, if any
    superseded: list[int] = field(default_factory=list)  # active rollouts it ended


class Refused(Exception):
    """Raised inside a transaction when its fence does not hold (it is rolled back)."""

    def __init__(self, why: str, current: int | None) -> None:
        self.why, self.current = why, current


def claim_model(conn: sa.Connection, model: str, fence: Fence) -> int | None:
    """The compare-and-set on the model's deployment, first statement of a decision's
    transaction; returns the current deployment id or raises :class:`Refused`."""
    m = t.models
    claim = m.update().where(m.c.name == model)
    if not fence.latest:
        claim = claim.where(m.c.deployment_id.is_(None) if fence.deployment_id is None
                            else m.c.deployment_id == fence.deployment_id)
    row = conn.execute(claim.values(deployment_id=m.c.deployment_id)
                       .returning(m.c.deployment_id)).first()
    if row is not None:
        return None if row.deployment_id is None else int(row.deployment_id)
    current = conn.execute(sa.select(m.c.deployment_id).where(m.c.name == model)).first()
    if current is None:
        raise NotFoundError(f"model {model!r} does not exist",
                            fix="register a version of it before deploying")
    raise Refused(f"superseded by deployment #{current[0]} (it was decided on "
                  f"{_dep(fence.deployment_id)})", current[0])


class SqlDeployments(Repository):
    """The deployment history and the fenced decision (rollout row, deployment row and
    events in one transaction)."""

    # -- reading ------------------------------------------------------------------------

    def current_deployment(self, model: str) -> DeploymentRecord | None:
        d, m = t.deployments, t.models
        q = sa.select(d).join(m, m.c.deployment_id == d.c.id).where(m.c.name == model)
        with self.db.reading() as conn:
            row = conn.execute(q).first()
        return None if row is None else _record(row)

    def deployment_history(self, model: str, limit: int = 50) -> list[DeploymentRecord]:
        """Newest first."""
        q = (sa.select(t.deployments).where(t.deployments.c.model == model)
             .order_by(t.deployments.c.id.desc()).limit(limit))
        with self.db.reading() as conn:
            return [_record(r) for r in conn.execute(q)]

    def latest_deployment_ids(self) -> dict[str, int]:
        """One cheap query replicas poll to notice policy changes."""
        q = sa.select(t.models.c.name, t.models.c.deployment_id).where(
            t.models.c.deployment_id.is_not(None))
        with self.db.reading() as conn:
            return {m: int(i) for m, i in conn.execute(q)}

    # -- writing ------------------------------------------------------------------------

    def append_deployment(self, model: str, policy: dict[str, Any], actor: str,
                          reason: str = "") -> DeploymentRecord:
        """A person's direct policy write: appended on top of whatever is current (an
        active rollout it replaces is ended as superseded)."""
        applied = self.decide(model, Fence(latest=True),
                              Change(actor, reason, policy=policy, always=True))
        assert applied.deployment is not None
        return applied.deployment

    def decide(self, model: str, fence: Fence, change: Change) -> Applied:
        """Apply ``change`` if ``fence`` still holds (see the module doc); raises
        :class:`SupersededError` (recorded as an info event) when it does not."""
        now = time.time()  # the history's wall time (rollout rows keep their own clock)
        try:
            with self.db.begin() as conn:
                return self._decide(conn, model, fence, change, now)
        except Refused as refused:
            self._record_superseded(model, fence, change, refused)
            raise SupersededError(
                f"{change.actor}'s decision on {model} was not applied: {refused.why}",
                fix="nothing to do: it was decided on a state that has moved on; look at "
                    f"'rampup rollout status {model}'",
                deployment_id=refused.current) from None
        except sa.exc.IntegrityError:
            if change.new_rollout is None:
                raise
            active = self._active_rollout(model)
            which = f" (#{active[0]} of {active[1]})" if active else ""
            raise ConflictError(
                f"model {model!r} already has an active rollout{which}",
                fix=f"finish it first: rampup rollout abort {model} (or promote/approve "
                    "it)") from None

    def _decide(self, conn: sa.Connection, model: str, fence: Fence, change: Change,
                now: float) -> Applied:
        m, d, r = t.models, t.deployments, t.rollouts
        current_id = claim_model(conn, model, fence)
        current = None
        if current_id is not None:
            current = _record(conn.execute(sa.select(d).where(d.c.id == current_id)).one())
        if fence.owned and (current is None or current.rollout_id != fence.rollout_id):
            raise Refused(f"superseded by deployment #{current_id} (rollout "
                           f"#{fence.rollout_id} no longer owns the model's deployment)",
                           current_id)
        if change.rollout is not None:
            if fence.rollout_id is None or fence.revision is None:
                raise ValueError("a rollout change needs the rollout's revision in its fence")
            moved = conn.execute(r.update().where(
                r.c.id == fence.rollout_id, r.c.revision == fence.revision
            ).values(**change.rollout, revision=fence.revision + 1).returning(r.c.id)).first()
            if moved is None:
                rev = conn.execute(sa.select(r.c.revision, r.c.state)
                                   .where(r.c.id == fence.rollout_id)).first()
                now_at = "" if rev is None else f" (now revision {rev.revision}, {rev.state})"
                raise Refused(f"rollout #{fence.rollout_id} changed since revision "
                               f"{fence.revision}{now_at}", current_id)
        new_rollout_id = None
        if change.new_rollout is not None:
            new_rollout_id = int(conn.execute(r.insert().values(**change.new_rollout)
                                              .returning(r.c.id)).scalar_one())
        owner = new_rollout_id if change.owner == "new" else change.owner
        result, changed, superseded = current, False, []
        if change.policy is not None and (
                change.always or current is None or current.policy != dict(change.policy)
                or current.rollout_id != owner):
            policy = dict(change.policy)
            new_id = int(conn.execute(d.insert().values(
                model=model, created_at=now, policy=policy, actor=change.actor,
                reason=change.reason, rollout_id=owner).returning(d.c.id)).scalar_one())
            conn.execute(m.update().where(m.c.name == model).values(deployment_id=new_id))
            result = DeploymentRecord(new_id, model, now, policy, change.actor, change.reason,
                                      owner)
            changed = True
            record_event(conn, now, change.actor, "deploy", model, None, {
                "deployment_id": new_id, "replaced": current_id, "policy": policy,
                "rollout_id": owner, "reason": change.reason})
            superseded = self._supersede_active(conn, model, owner, new_id, change, now)
        for action, version, details in change.events:
            extra: dict[str, Any] = {} if result is None else {"deployment_id": result.id}
            if new_rollout_id is not None:
                extra["rollout_id"] = new_rollout_id
            record_event(conn, now, change.actor, action, model, version,
                        {**extra, **details})
        return Applied(result, changed, new_rollout_id, superseded)

    def _supersede_active(self, conn: sa.Connection, model: str, owner: int | None,
                          new_id: int, change: Change, now: float) -> list[int]:
        """An active rollout always owns the model's deployment: one that no longer does
        (a person replaced the policy) is ended, its traffic left as the writer set it."""
        r = t.rollouts
        q = r.update().where(r.c.model == model, r.c.state.in_(ACTIVE_STATES))
        if owner is not None:
            q = q.where(r.c.id != owner)
        why = f"superseded by deployment #{new_id} ({change.actor}: {change.reason})"
        ended = conn.execute(q.values(state="superseded", reason=why, updated_at=now,
                                      revision=r.c.revision + 1)
                             .returning(r.c.id, r.c.candidate, r.c.state)).all()
        for row in ended:
            record_event(conn, now, change.actor, "rollout_superseded", model, row.candidate,
                        {"rollout_id": row.id, "state": "superseded", "reason": why,
                         "deployment_id": new_id})
        return [row.id for row in ended]

    def note_superseded(self, model: str, actor: str, message: str,
                        details: Mapping[str, Any] | None = None) -> None:
        """Record that ``actor``'s decision was not applied because the state it was made
        on has moved on: an info event, never an error."""
        with self.db.begin() as conn:
            record_event(conn, time.time(), actor, "superseded", model, None,
                        {"level": "info", "message": message, **(details or {})})

    def _record_superseded(self, model: str, fence: Fence, change: Change,
                           refused: Refused) -> None:
        self.note_superseded(model, change.actor, refused.why, {
            "deployment_id": refused.current, "decided_on": fence.deployment_id,
            "rollout_id": fence.rollout_id, "revision": fence.revision,
            "reason": change.reason})

    def _active_rollout(self, model: str) -> tuple[int, str] | None:
        r = t.rollouts
        with self.db.reading() as conn:
            row = conn.execute(sa.select(r.c.id, r.c.candidate).where(
                r.c.model == model, r.c.state.in_(ACTIVE_STATES))).first()
        return None if row is None else (int(row.id), str(row.candidate))



def _dep(deployment_id: int | None) -> str:
    return "no deployment" if deployment_id is None else f"deployment #{deployment_id}"


def _record(r: Any) -> DeploymentRecord:
    return DeploymentRecord(r.id, r.model, r.created_at, r.policy, r.actor, r.reason,
                            r.rollout_id)
