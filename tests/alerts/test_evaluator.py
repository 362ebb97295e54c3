"""The evaluator against the real store (SQLite and PostgreSQL): an alarm going pending →
firing → resolved with a webhook received by a local server, history, de-duplication
across restarts, broken metrics and notifiers, leader election."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from rampup.alerts.evaluator import AlertEvaluator, lock_name
from rampup.alerts.notifiers import LogNotifier, WebhookNotifier
from rampup.alerts.service import Alerts
from rampup.runtime.leader import Leader
from rampup.store import Database
from tests.alerts.conftest import Clock, FakeSource, Receiver


def setup(store: Database, **rule: Any) -> Alerts:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    alerts.alerting = alerts.alerting.model_validate({"notifiers": {
        "hook": {"type": "webhook", "url": "http://unused"}}})
    spec = {"name": "errors", "condition": "error_rate > 0.05 for 60s", "window": "2m",
            "severity": "critical", "notify": ["hook"], "labels": {"team": "risk"}}
    spec.update(rule)
    alerts.add("credit", spec)
    return alerts


def kinds(store: Database) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["state"]) for e in
            store.alerts.list_alert_events("credit", "errors", oldest_first=True, limit=None)]


def test_alarm_pending_firing_resolved_with_a_webhook(store: Database, source: FakeSource,
                                                      clock: Clock, receiver: Receiver) -> None:
    setup(store)
    ev = AlertEvaluator(store, source, clock=clock, base_url="https://rampup.example/",
                        notifiers={"hook": WebhookNotifier("hook", receiver.url)})
    source.set("credit", "error_rate", 0.01)
    assert [e.state for e in ev.tick()] == ["ok"]
    source.set("credit", "error_rate", 0.2)
    clock.advance(10)
    assert ev.tick()[0].transition == ("ok", "pending")
    clock.advance(30)
    assert ev.tick()[0].state == "pending"
    clock.advance(30)  # 60 s after the condition first held
    fired = ev.tick()[0]
    assert (fired.transition, fired.notified) == (("pending", "firing"), "firing")
    started = clock.t
    [firing] = receiver.wait_for(1)
    assert firing["state"] == "firing"
    assert firing["rule"] == "errors"
    assert firing["model"] == "credit"
    assert (firing["value"], firing["threshold"], firing["severity"]) == (0.2, 0.05, "critical")
    assert firing["started_at"] == started
    assert firing["labels"] == {"team": "risk"}
    assert firing["links"]["history"] == \
        "https://rampup.example/v1/admin/models/credit/alerts/errors/history"
    assert firing["links"]["metric"].endswith("/v1/models/credit/metrics?metric=error_rate")
    assert source.reads[-1]["window_s"] == 120.0
    for _ in range(5):  # still firing: de-duplicated, no new webhook
        clock.advance(10)
        assert ev.tick()[0].notified is None
    source.set("credit", "error_rate", 0.0)
    clock.advance(10)
    assert ev.tick()[0].transition == ("firing", "resolved")
    resolved = receiver.wait_for(2)[1]
    assert resolved["state"] == "resolved"
    assert resolved["started_at"] == started
    assert resolved["resolved_at"] == clock.t
    clock.advance(10)
    assert ev.tick()[0].transition == ("resolved", "ok")
    assert ev.dispatcher.drain(5)
    history = kinds(store)  # deliveries are recorded by the notification workers
    assert [s for k, s in history if k == "state"] == ["pending", "firing", "resolved", "ok"]
    assert [s for k, s in history if k == "notified"] == ["firing", "resolved"]
    assert history.index(("notified", "firing")) > history.index(("state", "firing"))
    status = Alerts(store).status("credit")[0]
    assert (status.state.state, status.state.value) == ("ok", 0.0)
    ev.dispatcher.close()


def test_a_new_evaluator_carries_on_without_notifying_again(store: Database, source: FakeSource,
                                                            clock: Clock) -> None:
    setup(store, condition="error_rate > 0.05", notify=["log"], cooldown="1h")
    sent: list[Mapping[str, Any]] = []

    class Collect(LogNotifier):
        def send(self, alert: Mapping[str, Any]) -> None:
            sent.append(alert)

    source.set("credit", "error_rate", 0.3)
    first = AlertEvaluator(store, source, clock=clock, notifiers={"log": Collect()})
    first.tick()
    assert first.dispatcher.drain(5)
    clock.advance(60)  # the leader moved to another replica
    second = AlertEvaluator(store, source, clock=clock, notifiers={"log": Collect()})
    assert second.tick()[0].notified is None
    clock.advance(3600)  # after the cooldown: reminded once
    assert second.tick()[0].notified == "firing"
    assert second.dispatcher.drain(5)
    assert [(a["state"], a["repeat"]) for a in sent] == [("firing", False), ("firing", True)]
    first.dispatcher.close()
    second.dispatcher.close()


class Hang:
    name = "hook"

    def __init__(self) -> None:
        self.release = threading.Event()

    @property
    def deadline_s(self) -> float:
        return 0.3

    def send(self, alert: Mapping[str, Any]) -> None:
        self.release.wait(20)


def test_a_hanging_notifier_does_not_slow_the_evaluator(store: Database, source: FakeSource,
                                                        clock: Clock) -> None:
    setup(store, condition="error_rate > 0.05", cooldown="0s")
    hang = Hang()
    ev = AlertEvaluator(store, source, clock=clock, notifiers={"hook": hang}, workers=1)
    ev.dispatcher.watch_interval = 0.02
    source.set("credit", "error_rate", 0.5)
    def ticks() -> None:
        for _ in range(5):  # every tick re-notifies (cooldown 0) into a hanging notifier
            ev.tick()
            clock.advance(10)

    # the ticks finish while every notification they sent is still hanging (it returns
    # only when released, after this): an evaluator that waited on one would not finish
    runner = threading.Thread(target=ticks, daemon=True)
    runner.start()
    runner.join(15)
    assert not runner.is_alive(), "the evaluator waited on a hanging notifier"
    assert not hang.release.is_set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ev.dispatcher.counts()["hook"]["timed_out"] < 2:
        time.sleep(0.05)
    assert ev.dispatcher.counts()["hook"]["timed_out"] >= 2
    failed = store.alerts.list_alert_events("credit", "errors", kinds=["notify_failed"])
    assert failed
    assert "timed out after" in failed[0]["message"]
    hang.release.set()
    ev.dispatcher.close()


def test_a_broken_metric_is_no_data_and_others_go_on(store: Database, source: FakeSource,
                                                     clock: Clock) -> None:
    alerts = setup(store, condition="error_rate > 0.05")
    alerts.add("credit", {"name": "slow", "condition": "latency_p99 > 100"})
    source.set("credit", "error_rate", 0.01)
    source.set("credit", "latency_p99", 250.0)
    ev = AlertEvaluator(store, source, clock=clock, notifiers={"hook": LogNotifier("hook")})
    ev.tick()
    source.fail.add("error_rate")
    clock.advance(10)
    by_rule = {e.rule: e for e in ev.tick()}
    assert by_rule["errors"].error == "RuntimeError: cannot read error_rate"
    assert by_rule["errors"].state == "ok"
    assert by_rule["slow"].state == "firing"
    assert [e["kind"] for e in store.alerts.list_alert_events("credit", "errors")] == ["no_data"]
    clock.advance(10)
    ev.tick()  # the gap is recorded once, not on every pass
    assert len(store.alerts.list_alert_events("credit", "errors", kinds=["no_data"])) == 1
    status = Alerts(store).status("credit")
    assert [s.state.no_data for s in status if s.rule.name == "errors"] == [True]
    ev.dispatcher.close()


def test_disabled_rules_are_not_evaluated(store: Database, source: FakeSource,
                                          clock: Clock) -> None:
    alerts = setup(store, condition="error_rate > 0.05")
    source.set("credit", "error_rate", 0.5)
    ev = AlertEvaluator(store, source, clock=clock, notifiers={"hook": LogNotifier("hook")})
    assert ev.tick()[0].state == "firing"
    alerts.set_enabled("credit", "errors", False)
    assert ev.tick() == []
    assert alerts.status("credit")[0].state.state == "ok"
    alerts.set_enabled("credit", "errors", True)
    clock.advance(5)
    again = ev.tick()[0]
    assert again.transition == ("ok", "firing")
    ev.dispatcher.close()


def test_only_the_leader_evaluates_and_another_replica_takes_over(store: Database) -> None:
    setup(store, condition="error_rate > 0.05", notify=["log"])
    a, b = FakeSource(), FakeSource()
    for s in (a, b):
        s.set("credit", "error_rate", 0.5)
    loops = [AlertEvaluator(store, s).start(interval=0.05) for s in (a, b)]
    deadline = time.time() + 10
    while time.time() < deadline and len(a.reads) + len(b.reads) < 5:
        time.sleep(0.02)
    counts = (len(a.reads), len(b.reads))
    assert (counts[0] > 0) != (counts[1] > 0), counts  # one replica evaluates
    leader, other = (0, 1) if counts[0] else (1, 0)
    follower_source = (a, b)[other]
    loops[leader].stop()  # the leader goes away: the other one takes over
    deadline = time.time() + 10
    while time.time() < deadline and not follower_source.reads:
        time.sleep(0.02)
    loops[other].stop()
    assert follower_source.reads
    assert Alerts(store).status("credit")[0].state.state == "firing"
    fired = store.alerts.list_alert_events("credit", "errors", kinds=["state"])
    assert [e["state"] for e in fired] == ["firing"]  # the new leader did not fire again
    if store.dialect == "postgresql":  # advisory locks span the database: one per schema
        assert lock_name(store).startswith("alert-evaluator:t_")
    lock = Leader(store, lock_name(store))  # released on stop
    assert lock.try_acquire()
    lock.release()
