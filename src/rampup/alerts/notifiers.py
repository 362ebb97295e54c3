"""Notifiers: one small interface, three implementations (log, webhook, shell command).

``send(alert)`` delivers one alert payload (a JSON-able dict: rule, model, state, value,
threshold, severity, started_at, links, ...) or raises. Each notifier bounds its own time
(``timeout_s`` per attempt; :attr:`Notifier.deadline_s` for the whole delivery); the
:class:`~rampup.alerts.dispatch.Dispatcher` runs them off the evaluator's thread.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from rampup.alerts.spec import AlertingSpec, NotifierSpec
from rampup.errors import ValidationError

log = logging.getLogger("rampup.alerts")

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class NotifyError(Exception):
    """A delivery failed (after its retries); the message says why."""


class Notifier(Protocol):
    name: str

    @property
    def deadline_s(self) -> float:
        """The longest one ``send`` may take, retries included."""
        ...

    def send(self, alert: Mapping[str, Any]) -> None: ...


class LogNotifier:
    """One structured line on the ``rampup.alerts`` logger, at the alert's severity."""

    def __init__(self, name: str = "log", logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or log

    @property
    def deadline_s(self) -> float:
        return 5.0

    def send(self, alert: Mapping[str, Any]) -> None:
        level = logging.INFO if alert.get("state") == "resolved" else \
            _LEVELS.get(str(alert.get("severity")), logging.WARNING)
        self.logger.log(level, "alert %s %s/%s: %s | %s", alert.get("state"),
                        alert.get("model"), alert.get("rule"), alert.get("message", ""),
                        json.dumps(dict(alert), default=str, sort_keys=True))


class WebhookNotifier:
    """POST the alert as JSON; retries connection errors, timeouts, 408/429/5xx with
    exponential backoff (``backoff_s * 2**attempt``, capped at 30 s)."""

    def __init__(self, name: str, url: str, *, headers: Mapping[str, str] | None = None,
                 timeout_s: float = 5.0, retries: int = 3, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.url = url
        self.headers = {k: os.path.expandvars(v) for k, v in (headers or {}).items()}
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.transport = transport

    @property
    def deadline_s(self) -> float:
        waits = sum(min(self.backoff_s * 2.0**i, 30.0) for i in range(self.retries))
        return self.timeout_s * (self.retries + 1) + waits + 1.0

    def send(self, alert: Mapping[str, Any]) -> None:
        body = json.dumps(dict(alert), default=str).encode()
        headers = {"content-type": "application/json", "user-agent": "rampup-alerts",
                   **self.headers}
        problem = ""
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.sleep(min(self.backoff_s * 2.0 ** (attempt - 1), 30.0))
                try:
                    resp = client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    continue
                if resp.is_success:
                    return
                problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                if resp.status_code not in _RETRY_STATUS:
                    break
        raise NotifyError(f"webhook {self.name} ({self.url}) failed after "
                          f"{attempt + 1} attempt(s): {problem}")


class CommandNotifier:
    """Run a command with the alert as JSON on stdin and ``RAMPUP_ALERT_*`` variables in
    its environment; a non-zero exit or running past the timeout is a failure."""

    def __init__(self, name: str, command: list[str] | str, *, timeout_s: float = 5.0,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValidationError(f"notifier {name!r} has an empty command",
                                  fix="give the program and its arguments as a list")
        self.timeout_s = timeout_s
        self.env = dict(env or {})

    @property
    def deadline_s(self) -> float:
        return self.timeout_s + 1.0

    def send(self, alert: Mapping[str, Any]) -> None:
        env = {**os.environ, **self.env, **alert_env(alert)}
        try:
            proc = subprocess.run(self.argv, input=json.dumps(dict(alert), default=str),
                                  capture_output=True, text=True, env=env,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise NotifyError(f"command {self.name} ({self.argv[0]}) ran longer than "
                              f"{self.timeout_s:g} s and was killed") from None
        except OSError as exc:
            raise NotifyError(f"command {self.name} cannot run {self.argv[0]!r}: "
                              f"{exc.strerror}") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-300:]
            raise NotifyError(f"command {self.name} ({self.argv[0]}) exited with "
                              f"{proc.returncode}: {tail}")


def alert_env(alert: Mapping[str, Any]) -> dict[str, str]:
    """``RAMPUP_ALERT_RULE``, ``..._MODEL``, ``..._STATE``, ``..._SEVERITY``, ``..._VALUE``,
    ``..._THRESHOLD``, ``..._MESSAGE`` for shell notifiers.

    >>> alert_env({"rule": "r", "value": 0.5, "state": "firing"})["RAMPUP_ALERT_VALUE"]
    '0.5'
    """
    keys = ("rule", "model", "state", "severity", "value", "threshold", "metric", "message",
            "started_at")
    return {f"RAMPUP_ALERT_{k.upper()}": "" if alert.get(k) is None else str(alert.get(k))
            for k in keys}


def build_notifier(name: str, spec: NotifierSpec) -> Notifier:
    if spec.type == "webhook":
        assert spec.url is not None  # checked by NotifierSpec
        return WebhookNotifier(name, spec.url, headers=spec.headers, timeout_s=spec.timeout_s,
                               retries=spec.retries, backoff_s=spec.backoff_s)
    if spec.type == "command":
        assert spec.command is not None
        return CommandNotifier(name, spec.command, timeout_s=spec.timeout_s, env=spec.env)
    return LogNotifier(name)


def build_notifiers(alerting: AlertingSpec) -> dict[str, Notifier]:
    """Every notifier the project names, plus ``log``."""
    out: dict[str, Notifier] = {"log": LogNotifier()}
    for name, spec in alerting.notifiers.items():
        out[name] = build_notifier(name, spec)
    return out
