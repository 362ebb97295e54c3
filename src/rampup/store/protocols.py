"""The repositories' interfaces: what the rest of rampup may ask of the store.

Consumers reach them through :class:`rampup.store.Database` (``db.predictions``,
``db.deployments`` ...), whose attributes are typed with these protocols, so another
implementation of one concept (a partitioned prediction log, an in-memory fake) can
stand in for the SQL one without touching its callers. Rows are plain dicts or the
records of :mod:`rampup.store.records`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

from rampup.store.alerts import RuleSync
from rampup.store.deployments import Applied, Change, Fence
from rampup.store.partitions import Partition
from rampup.store.records import (
    DeploymentRecord,
    EvaluationRecord,
    EventRecord,
    FeedbackRecord,
    ModelRecord,
    VersionRecord,
)
from rampup.store.windows import WindowStamp


class Models(Protocol):
    """Models and their immutable versions."""

    def ensure_model(self, name: str, description: str = "",
                     config: dict[str, Any] | None = None) -> ModelRecord: ...

    def get_model(self, name: str) -> ModelRecord | None: ...

    def list_models(self) -> list[ModelRecord]: ...

    def next_version_seq(self, model: str) -> int: ...

    def add_version(self, record: VersionRecord) -> VersionRecord: ...

    def get_version(self, model: str, version: str) -> VersionRecord | None: ...

    def list_versions(self, model: str | None = None) -> list[VersionRecord]: ...

    def find_version_by_hash(self, model: str, artifact_hash: str) -> VersionRecord | None: ...


class Evaluations(Protocol):
    """Evaluations, audits and calibrations recorded against a version."""

    def add_evaluation(self, model: str, version: str, kind: str, *, summary: dict[str, Any],
                       result: dict[str, Any], passed: bool | None = None, name: str = "",
                       actor: str = "cli") -> EvaluationRecord: ...

    def list_evaluations(self, model: str, version: str | None = None, kind: str | None = None,
                         limit: int = 100) -> list[EvaluationRecord]: ...


class Deployments(Protocol):
    """The deployment history and the fenced decision every change of what is served
    goes through."""

    def current_deployment(self, model: str) -> DeploymentRecord | None: ...

    def deployment_history(self, model: str, limit: int = 50) -> list[DeploymentRecord]: ...

    def latest_deployment_ids(self) -> dict[str, int]: ...

    def append_deployment(self, model: str, policy: dict[str, Any], actor: str,
                          reason: str = "") -> DeploymentRecord: ...

    def decide(self, model: str, fence: Fence, change: Change) -> Applied: ...

    def note_superseded(self, model: str, actor: str, message: str,
                        details: Mapping[str, Any] | None = None) -> None: ...


class Rollouts(Protocol):
    """Rollout rows and their check results."""

    def insert_rollout(self, values: dict[str, Any]) -> int: ...

    def get_rollout(self, rollout_id: int) -> dict[str, Any] | None: ...

    def list_rollouts(self, model: str | None = None, *, active_only: bool = False,
                      limit: int = 50) -> list[dict[str, Any]]: ...

    def update_rollout(self, rollout_id: int, revision: int, values: dict[str, Any]) -> bool: ...

    def add_rollout_check(self, rollout_id: int, step: int, ts: float, verdict: str,
                          decision: str, reason: str, results: list[dict[str, Any]]) -> None: ...

    def list_rollout_checks(self, rollout_id: int, limit: int = 200) -> list[dict[str, Any]]: ...


class Predictions(Protocol):
    """The prediction log (bulk insert, stream with labels, retention, erasure)."""

    def insert_predictions(self, rows: Sequence[dict[str, Any]]) -> int: ...

    def get_predictions(self, ids: Iterable[str]) -> list[dict[str, Any]]: ...

    def existing_prediction_ids(self, ids: Iterable[str]) -> set[str]: ...

    def prediction_models(self, ids: Iterable[str]) -> dict[str, str]: ...

    def count_predictions(self, model: str | None = None, role: str | None = None) -> int: ...

    def count_answered(self, model: str, since: float | None = None) -> int: ...

    def iter_predictions(
        self, model: str, *, since: float | None = None, until: float | None = None,
        version: str | None = None, roles: Sequence[str] | None = None,
        with_labels: bool = True, chunk_size: int = 10_000,
    ) -> Iterator[list[dict[str, Any]]]: ...

    def tail_rows(self, model: str, *, since: float, until: float,
                  roles: Sequence[str] | None, chunk_size: int = 10_000,
                  ids: Sequence[str] | None = None, stream: bool = True
                  ) -> Iterator[list[Sequence[Any]]]: ...

    def tail_ids(self, model: str, *, since: float, until: float,
                 roles: Sequence[str] | None) -> list[str]: ...

    def count_window(self, model: str, *, since: float, until: float,
                     roles: Sequence[str] | None) -> int: ...

    def id_floor(self, since: float) -> str | None: ...

    def recent_predictions(self, model: str, limit: int, *,
                           roles: Sequence[str] = ("answer",),
                           version: str | None = None) -> list[dict[str, Any]]: ...

    def feedback_targets(self, ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]: ...

    def delete_predictions_before(self, model: str, before: float, limit: int) -> int: ...

    def subject_predictions(self, keys: Sequence[str]) -> list[dict[str, Any]]: ...

    def erase_predictions(self, ids: Sequence[str],
                          request_ids: Sequence[str]) -> dict[str, int]: ...

    def inputs_mention(self, text: str) -> bool: ...


class Feedback(Protocol):
    """Labels and events per prediction, idempotent by dedupe key."""

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> list[bool]: ...

    def labels_after(self, model: str, after_id: int, limit: int = 50_000
                     ) -> list[tuple[int, str, Any]]: ...

    def last_feedback_id(self) -> int: ...

    def count_labels(self, model: str, after_id: int, upto_id: int) -> int: ...

    def labels_in_range(self, model: str, low_id: str, high_id: str
                        ) -> dict[str, tuple[int, Any]]: ...

    def latest_labels(self, model: str, ids: Iterable[str]) -> dict[str, tuple[int, Any]]: ...

    def list_feedback(self, prediction_id: str) -> list[FeedbackRecord]: ...

    def label_history(self, ids: Iterable[str]) -> dict[str, list[tuple[int, str, Any]]]: ...

    def count_new_labels(self, model: str, since: float | None) -> int: ...

    def delete_feedback_before(self, model: str, before: float, limit: int) -> int: ...


class Partitions(Protocol):
    """Time partitions of the prediction log and feedback (PostgreSQL; none on SQLite)."""

    def partitioned(self) -> bool: ...

    def list_partitions(self, table: str) -> list[Partition]: ...

    def ensure_partitions(self, now: float, interval_s: int = ...,
                          ahead: int = ...) -> list[str]: ...

    def drop_partition_if(self, table: str, name: str,
                          expired: Callable[[dict[str, float]], bool]) -> int | None: ...


class Events(Protocol):
    """The audit trail."""

    def add_event(self, actor: str, action: str, *, model: str | None = None,
                  version: str | None = None, details: dict[str, Any] | None = None) -> None: ...

    def list_events(self, model: str | None = None, limit: int = 100, *,
                    actor: str | None = None, action: str | None = None,
                    since: float | None = None) -> list[EventRecord]: ...


class Windows(Protocol):
    """Monitoring snapshots (metric windows) per replica."""

    def upsert_metric_windows(self, rows: Sequence[dict[str, Any]]) -> int: ...

    def metric_windows(self, model: str, *, since: float, until: float,
                       version: str | None = None, role: str | None = None,
                       stage: str | None = None, replica: str | None = None,
                       ) -> list[dict[str, Any]]: ...

    def metric_window(self, model: str, version: str, role: str, stage: str,
                      window_start: float, replica: str) -> dict[str, Any] | None: ...

    def metric_window_keys(self, model: str, since: float) -> list[tuple[str, str, str]]: ...

    def delete_metric_windows(self, before: float) -> int: ...

    def metric_window_stamps(self, model: str, *, since: float, until: float,
                             stage: str | None = None) -> list[WindowStamp]: ...


class Alerts(Protocol):
    """Alert rules, their states and their history."""

    def add_alert_rule(self, model: str, name: str, spec: dict[str, Any], *, source: str,
                       enabled: bool = True, actor: str = "", replace: bool = False) -> None: ...

    def sync_alert_rules(self, rules: Mapping[str, Sequence[tuple[str, dict[str, Any], bool]]],
                         *, actor: str = "project") -> RuleSync: ...

    def get_alert_rule(self, model: str, name: str) -> dict[str, Any] | None: ...

    def list_alert_rules(self, model: str | None = None, *,
                         enabled_only: bool = False) -> list[dict[str, Any]]: ...

    def delete_alert_rule(self, model: str, name: str) -> bool: ...

    def set_alert_rule_enabled(self, model: str, name: str, enabled: bool,
                               actor: str = "") -> bool: ...

    def alert_states(self, model: str | None = None) -> dict[tuple[str, str], dict[str, Any]]: ...

    def save_alert_states(self, states: Iterable[tuple[str, str, str, float | None,
                                                       dict[str, Any]]]) -> None: ...

    def add_alert_events(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def list_alert_events(self, model: str | None = None, rule: str | None = None, *,
                          since: float | None = None, until: float | None = None,
                          kinds: Sequence[str] | None = None, limit: int | None = 200,
                          oldest_first: bool = False) -> list[dict[str, Any]]: ...


class RetrainRuns(Protocol):
    """Retraining runs."""

    def insert_retrain_run(self, values: dict[str, Any], *,
                           seen: int | Literal["current"] | None = "current") -> int: ...

    def get_retrain_run(self, run_id: int) -> dict[str, Any] | None: ...

    def list_retrain_runs(self, model: str | None = None, *,
                          states: Sequence[str] | None = None,
                          since: float | None = None, limit: int = 50) -> list[dict[str, Any]]: ...

    def update_retrain_run(self, run_id: int, values: dict[str, Any], *,
                           expect_states: Sequence[str] | None = None) -> bool: ...


class Review(Protocol):
    """The human review queue."""

    def insert_review_items(self, rows: Sequence[dict[str, Any]]) -> int: ...

    def get_review_item(self, item_id: str) -> dict[str, Any] | None: ...

    def list_review_items(self, model: str, *, statuses: Sequence[str] | None = None,
                          reasons: Sequence[str] | None = None, since: float | None = None,
                          limit: int = 100,
                          newest_first: bool = False) -> list[dict[str, Any]]: ...

    def claim_review_item(self, item_id: str, reviewer: str, now: float, ttl: float) -> bool: ...

    def claim_next_review_item(self, model: str, reviewer: str, now: float,
                               ttl: float) -> dict[str, Any] | None: ...

    def release_review_claim(self, item_id: str, reviewer: str) -> bool: ...

    def add_review_label(self, item_id: str, revision: int, update: dict[str, Any], *,
                         model: str, reviewer: str, kind: str, label: Any, now: float,
                         note: str = "", feedback: FeedbackRecord | None = None) -> bool: ...

    def list_review_labels(self, model: str, *, item_ids: Sequence[str] | None = None,
                           kinds: Sequence[str] = ("label",),
                           since: float | None = None) -> list[dict[str, Any]]: ...

    def review_status_counts(self, model: str) -> dict[str, int]: ...

    def review_queue_lengths(self) -> dict[str, int]: ...

    def delete_review_before(self, model: str, before: float, limit: int) -> int: ...


class AutomationLevels(Protocol):
    """Run-time automation level overrides."""

    def set_automation_level(self, model: str, level: str, *, actor: str, reason: str,
                             now: float) -> None: ...

    def clear_automation_level(self, model: str) -> bool: ...

    def automation_levels(self) -> dict[str, dict[str, Any]]: ...


class DeadLetters(Protocol):
    """What background workers could not write."""

    def add_dead_letters(self, rows: Sequence[dict[str, Any]]) -> int: ...

    def list_dead_letters(self, *, worker: str | None = None, model: str | None = None,
                          since: float | None = None, until: float | None = None,
                          limit: int = 100) -> list[dict[str, Any]]: ...

    def count_dead_letters(self, *, since: float | None = None) -> dict[str, int]: ...

    def delete_dead_letters(self, *, before: float) -> int: ...


class Credentials(Protocol):
    """Token digests and per-project secrets."""

    def add_token(self, kind: str, name: str, token_hash: str, *, role: str | None = None,
                  actor: str = "") -> dict[str, Any]: ...

    def find_token(self, token_hash: str) -> dict[str, Any] | None: ...

    def list_tokens(self, kind: str | None = None, *,
                    include_revoked: bool = False) -> list[dict[str, Any]]: ...

    def count_tokens(self, kind: str) -> int: ...

    def revoke_token(self, kind: str, name: str) -> None: ...

    def secret(self, name: str) -> str: ...
