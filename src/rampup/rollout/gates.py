"""Deployment gates applied before a version may take traffic."""

from __future__ import annotations

from rampup.analysis.audit import check_deploy_gate
from rampup.store import Database


def deploy_gate(store: Database, model: str, version: str, force: bool, actor: str) -> None:
    """Refuse a version that fails the audit attached to its model (unless forced)."""
    check_deploy_gate(store, model, version, force=force, actor=actor)
