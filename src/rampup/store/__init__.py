"""The store: one repository per concept (registry, deployments, rollouts, prediction log,
feedback, monitor windows, alerts, review, retraining, credentials, dead letters, audit
events) behind small protocols, over SQLAlchemy Core on SQLite or PostgreSQL."""

from rampup.store.database import Database
from rampup.store.records import (
    DeploymentRecord,
    EvaluationRecord,
    EventRecord,
    FeedbackRecord,
    ModelRecord,
    VersionRecord,
)

__all__ = ["Database", "DeploymentRecord", "EvaluationRecord", "EventRecord", "FeedbackRecord",
           "ModelRecord", "VersionRecord"]
