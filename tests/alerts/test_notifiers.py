"""Notifiers against real receivers: a webhook server on 127.0.0.1, real commands; the
dispatcher keeps failing and hanging notifiers from blocking anyone."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rampup.alerts.dispatch import Delivery, Dispatcher
from rampup.alerts.notifiers import (
    CommandNotifier,
    LogNotifier,
    NotifyError,
    WebhookNotifier,
    build_notifiers,
)
from rampup.alerts.spec import AlertingSpec
from tests.alerts.conftest import Receiver

ALERT = {"rule": "errors", "model": "credit", "state": "firing", "severity": "critical",
         "value": 0.2, "threshold": 0.05, "metric": "error_rate", "message": "too many"}


def test_webhook_posts_json(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    WebhookNotifier("hook", receiver.url,
                    headers={"authorization": "Bearer ${HOOK_TOKEN}"}).send(ALERT)
    assert receiver.received == [ALERT]
    assert receiver.headers[0]["authorization"] == "Bearer s3cret"
    assert receiver.headers[0]["content-type"] == "application/json"


def test_webhook_retries_with_exponential_backoff(receiver: Receiver) -> None:
    receiver.fail_next = 2
    waits: list[float] = []
    WebhookNotifier("hook", receiver.url, retries=3, backoff_s=0.5,
                    sleep=waits.append).send(ALERT)
    assert waits == [0.5, 1.0]
    assert receiver.received == [ALERT]


def test_webhook_gives_up_after_its_retries(receiver: Receiver) -> None:
    receiver.fail_next = 10
    waits: list[float] = []
    hook = WebhookNotifier("hook", receiver.url, retries=2, backoff_s=0.1, sleep=waits.append)
    with pytest.raises(NotifyError, match=r"after 3 attempt\(s\): HTTP 503"):
        hook.send(ALERT)
    assert waits == [0.1, 0.2]
    assert receiver.fail_next == 7


def test_webhook_does_not_retry_a_client_error(receiver: Receiver) -> None:
    receiver.status = 400
    with pytest.raises(NotifyError, match=r"after 1 attempt\(s\): HTTP 400"):
        WebhookNotifier("hook", receiver.url, retries=3, sleep=lambda s: None).send(ALERT)


def test_webhook_times_out(receiver: Receiver) -> None:
    receiver.delay = 1.0  # answered after 1 s: only a timeout that fired raises
    with pytest.raises(NotifyError, match="ReadTimeout"):
        WebhookNotifier("hook", receiver.url, timeout_s=0.2, retries=0).send(ALERT)


def test_webhook_unreachable() -> None:
    with pytest.raises(NotifyError, match="ConnectError"):
        WebhookNotifier("hook", "http://127.0.0.1:9/x", retries=1,
                        sleep=lambda s: None).send(ALERT)


def test_command_gets_json_on_stdin_and_env(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    script = ("import json, os, sys; a = json.load(sys.stdin); "
              f"open({str(out)!r}, 'w').write(json.dumps([a, os.environ['RAMPUP_ALERT_RULE'], "
              "os.environ['RAMPUP_ALERT_VALUE'], os.environ['EXTRA']]))")
    CommandNotifier("cmd", [sys.executable, "-c", script], env={"EXTRA": "x"}).send(ALERT)
    alert, rule, value, extra = json.loads(out.read_text())
    assert alert == ALERT
    assert (rule, value, extra) == ("errors", "0.2", "x")


def test_command_failure_and_timeout() -> None:
    with pytest.raises(NotifyError, match="exited with 3: boom"):
        CommandNotifier("cmd", [sys.executable, "-c",
                                "import sys; sys.stderr.write('boom'); sys.exit(3)"]).send(ALERT)
    with pytest.raises(NotifyError, match=r"ran longer than 0\.3 s"):  # killed, not awaited
        CommandNotifier("cmd", f"{sys.executable} -c 'import time; time.sleep(5)'",
                        timeout_s=0.3).send(ALERT)
    with pytest.raises(NotifyError, match="cannot run"):
        CommandNotifier("cmd", ["/nonexistent/notify"]).send(ALERT)


def test_log_notifier_writes_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rampup.alerts"):
        LogNotifier().send(ALERT)
        LogNotifier().send({**ALERT, "state": "resolved"})
    first, second = caplog.records
    assert first.levelno == logging.CRITICAL
    assert second.levelno == logging.INFO
    line = first.getMessage()
    assert line.startswith("alert firing credit/errors: too many | ")
    assert json.loads(line.split(" | ", 1)[1]) == ALERT


def test_build_notifiers_from_the_project_section() -> None:
    spec = AlertingSpec.model_validate({"notifiers": {
        "oncall": {"type": "webhook", "url": "https://hooks.example.com/x", "timeout": "2s",
                   "retries": 1},
        "pager": {"type": "command", "command": ["page", "--now"]},
        "audit": {"type": "log"}}})
    n = build_notifiers(spec)
    assert sorted(n) == ["audit", "log", "oncall", "pager"]
    hook = n["oncall"]
    assert isinstance(hook, WebhookNotifier)
    assert (hook.timeout_s, hook.retries) == (2.0, 1)
    assert isinstance(n["pager"], CommandNotifier)


@pytest.mark.parametrize(("spec", "needle"), [
    ({"type": "webhook"}, "needs 'url'"),
    ({"type": "webhook", "url": "ftp://x"}, "must start with http"),
    ({"type": "command"}, "needs 'command'"),
    ({"type": "webhook", "url": "http://x", "timeout": "soon"},
     "timeout: cannot read 'soon' as a duration"),
    ({"type": "email"}, "Input should be"),
])
def test_bad_notifier_specs(spec: dict[str, Any], needle: str) -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match=needle):
        AlertingSpec.model_validate({"notifiers": {"n": spec}})


class Blocking:
    """A notifier that hangs until released (a fake, like a stuck HTTP endpoint)."""

    def __init__(self, name: str, deadline: float) -> None:
        self.name = name
        self._deadline = deadline
        self.release = threading.Event()
        self.calls = 0

    @property
    def deadline_s(self) -> float:
        return self._deadline

    def send(self, alert: Mapping[str, Any]) -> None:
        self.calls += 1
        self.release.wait(30)


class Recording:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.sent: list[Mapping[str, Any]] = []

    @property
    def deadline_s(self) -> float:
        return 5.0

    def send(self, alert: Mapping[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("cannot reach the pager")
        self.sent.append(alert)


def test_dispatcher_survives_failing_and_hanging_notifiers() -> None:
    hang = Blocking("hang", deadline=0.2)
    bad, good = Recording("bad", fail=True), Recording("good")
    results: list[Delivery] = []
    d = Dispatcher({"hang": hang, "bad": bad, "good": good}, workers=2,
                   on_result=results.append, watch_interval=0.02)
    for i in range(5):
        d.submit(["hang", "bad", "good", "nope"], {**ALERT, "i": i})
    # (that submit never waits for a notifier is shown by the queue-full test below: its
    # notifier hangs for 30 s a call, and six submits come back)
    assert d.drain(5.0)
    assert [a["i"] for a in good.sent] == [0, 1, 2, 3, 4]  # hanging ones did not starve it
    counts = d.counts()
    assert counts["good"]["sent"] == 5
    assert counts["bad"]["failed"] == 5
    assert counts["hang"]["timed_out"] == 5
    assert counts["nope"]["failed"] == 5
    errors = {r.notifier: r.error for r in results if not r.ok}
    assert errors["bad"] == "cannot reach the pager"
    assert errors["nope"] is not None
    assert "unknown notifier 'nope'" in errors["nope"]
    assert errors["hang"] is not None
    assert "timed out after" in errors["hang"]
    hang.release.set()
    d.close()


def test_dispatcher_drops_when_the_queue_is_full() -> None:
    hang = Blocking("hang", deadline=60)
    results: list[Delivery] = []
    d = Dispatcher({"hang": hang}, workers=1, queue_size=2, on_result=results.append)
    queued = sum(d.submit(["hang"], ALERT) for _ in range(6))
    assert queued < 6
    assert d.counts()["hang"]["dropped"] == 6 - queued
    assert any(r.error == "notification queue full; dropped" for r in results)
    hang.release.set()
    d.close()


def test_send_now_reports_each_notifier(receiver: Receiver) -> None:
    d = Dispatcher({"hook": WebhookNotifier("hook", receiver.url), "bad": Recording("bad", True)})
    out = d.send_now(["hook", "bad", "missing"], ALERT)
    assert [(r.notifier, r.ok) for r in out] == [("hook", True), ("bad", False),
                                                  ("missing", False)]
    assert receiver.received == [ALERT]
