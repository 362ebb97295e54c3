"""Alerts: rules (a condition on a metric + for-duration + severity), the state machine
ok → pending → firing → resolved, notifiers (log, webhook, command), actions (rollback,
pause a rollout, request retraining), the evaluator loop, threshold suggestions and
exports to Grafana/Prometheus.

Modules: :mod:`~rampup.alerts.condition` (parsing), :mod:`~rampup.alerts.spec` (the
project-file format), :mod:`~rampup.alerts.rules`, :mod:`~rampup.alerts.machine` (pure
state machine), :mod:`~rampup.alerts.notifiers`, :mod:`~rampup.alerts.dispatch`,
:mod:`~rampup.alerts.actions`, :mod:`~rampup.alerts.evaluator`,
:mod:`~rampup.alerts.service` (the API), :mod:`~rampup.alerts.suggest`,
:mod:`~rampup.alerts.review`, :mod:`~rampup.alerts.export`.

Names resolve lazily (nothing is imported here): :mod:`rampup.project` imports
:mod:`rampup.alerts.spec`, so this package must stay free of imports that lead back to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Alerts": "rampup.alerts.service",
    "AlertRule": "rampup.alerts.rules",
    "AlertRuleSpec": "rampup.alerts.spec",
    "AlertingSpec": "rampup.alerts.spec",
    "Condition": "rampup.alerts.condition",
    "parse_condition": "rampup.alerts.condition",
    "AlertsHost": "rampup.alerts.runner",
    "start_alerts": "rampup.alerts.runner",
}

__all__ = ["AlertRule", "AlertRuleSpec", "AlertingSpec", "Alerts", "AlertsHost", "Condition",
           "parse_condition", "start_alerts"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.alerts.condition import Condition, parse_condition
    from rampup.alerts.rules import AlertRule
    from rampup.alerts.runner import AlertsHost, start_alerts
    from rampup.alerts.service import Alerts
    from rampup.alerts.spec import AlertingSpec, AlertRuleSpec
