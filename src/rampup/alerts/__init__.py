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

Nothing is imported here: :mod:`rampup.project` imports :mod:`rampup.alerts.spec`, so
this package must stay free of imports that lead back to it.
"""
