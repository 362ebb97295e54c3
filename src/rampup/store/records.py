"""Plain records the store returns. No SQL here; the store maps rows to these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelRecord:
    name: str
    created_at: float
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VersionRecord:
    model: str
    version: str
    seq: int
    flavor: str
    artifact_uri: str
    artifact_hash: str
    input_schema: dict[str, Any]
    output: dict[str, Any]
    profile: dict[str, Any] | None
    metadata: dict[str, Any]
    created_at: float
    created_by: str


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: int
    model: str
    created_at: float
    policy: dict[str, Any]
    actor: str
    reason: str
    rollout_id: int | None = None  # the rollout whose decision made it (None: a person's)


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    ts: float
    actor: str
    action: str
    model: str | None
    version: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    """An evaluation, audit or comparison result kept with a version."""

    id: int
    model: str
    version: str
    kind: str  # "evaluation" | "audit" | "comparison" | ...
    name: str
    created_at: float
    actor: str
    passed: bool | None
    summary: dict[str, Any]
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One label or user event for a prediction id."""

    prediction_id: str
    model: str
    ts: float
    kind: str  # "label" | "event"
    name: str | None
    value: Any
    source: str
    dedupe_key: str
