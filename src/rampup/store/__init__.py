"""The store: registry, deployments, prediction log, feedback and audit events."""

from rampup.store.records import (
    DeploymentRecord,
    EvaluationRecord,
    EventRecord,
    FeedbackRecord,
    ModelRecord,
    VersionRecord,
)
from rampup.store.sql import Store

__all__ = ["DeploymentRecord", "EvaluationRecord", "EventRecord", "FeedbackRecord",
           "ModelRecord", "Store", "VersionRecord"]
