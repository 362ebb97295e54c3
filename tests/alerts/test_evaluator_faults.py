"""The alert evaluator and its notifier pool survive bad records: a rule that cannot be
read or evaluated is dead-lettered and the others go on; a delivery outcome that cannot
be recorded is dead-lettered; a pool thread that dies is replaced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from rampup.alerts.evaluator import AlertEvaluator
from rampup.alerts.service import Alerts
from rampup.runtime import DeadLetters
from rampup.store import Database
from rampup.store import schema as t
from tests.alerts.conftest import Clock, FakeSource


class HostileNotifier:
    """Fails with a message no JSON column can hold (a lone surrogate)."""

    name = "log"
    deadline_s = 5.0

    def send(self, alert: Mapping[str, Any]) -> None:
        raise RuntimeError("upstream said \ud800")


def test_a_broken_rule_is_dead_lettered_and_the_others_evaluated(
        store: Database, source: FakeSource, clock: Clock) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    for name in ("errors", "latency"):
        alerts.add("credit", {"name": name, "condition": "error_rate > 0.05",
                              "notify": []})
    with store.engine.begin() as conn:  # a row no version of rampup could have written
        conn.execute(t.alert_rules.update().where(t.alert_rules.c.name == "errors")
                     .values(spec={"condition": 42}))
    dead = DeadLetters(store)
    ev = AlertEvaluator(store, source, clock=clock, dead_letters=dead)
    source.set("credit", "error_rate", 0.5)
    out = ev.tick()
    assert [e.rule for e in out] == ["latency"]
    assert out[0].transition == ("ok", "firing") or out[0].state in ("pending", "firing")
    (letter,) = store.dead_letters.list_dead_letters(worker="alert-evaluator")
    assert letter["key"] == "credit/errors"
    assert letter["model"] == "credit"
    ev.tick()  # the same failure next pass: counted, stored once
    assert len(store.dead_letters.list_dead_letters(worker="alert-evaluator")) == 1
    assert dead.stats.added == 2


def test_an_unrecordable_delivery_is_dead_lettered(store: Database, source: FakeSource,
                                                   clock: Clock) -> None:
    store.models.ensure_model("credit")
    Alerts(store).add("credit", {"name": "errors", "condition": "error_rate > 0.05",
                                 "notify": ["log"]})
    ev = AlertEvaluator(store, source, clock=clock, notifiers={"log": HostileNotifier()},
                        dead_letters=DeadLetters(store))
    source.set("credit", "error_rate", 0.5)
    ev.tick()
    assert ev.dispatcher.drain(10)
    ev.dispatcher.close()
    (letter,) = store.dead_letters.list_dead_letters(worker="alert-evaluator")
    assert "\\ud800" in letter["payload"]
    assert letter["key"] == "credit/errors"
    assert ev.dispatcher.counts()["log"]["failed"] == 1


def test_a_dead_pool_thread_is_replaced(sqlite_store: Database, source: FakeSource) -> None:
    ev = AlertEvaluator(sqlite_store, source, workers=2)
    d = ev.dispatcher.start()
    victim = d._slots[0]
    d._closed.set()  # make the victim's loop end as if it had crashed ...
    assert victim.thread is not None
    victim.thread.join(10)
    d._closed.clear()  # ... while the pool itself is open
    assert d.replace_dead() >= 1
    assert d.respawned >= 1
    assert sum(1 for s in d._slots if s.thread is not None and s.thread.is_alive()) == 2
    d.close()


def test_rows_written_per_rule_survive_a_bad_event(store: Database, source: FakeSource,
                                                   clock: Clock) -> None:
    """A history event the store refuses costs only itself."""
    store.models.ensure_model("credit")
    Alerts(store).add("credit", {"name": "errors", "condition": "error_rate > 0.05",
                                 "notify": []})
    ev = AlertEvaluator(store, source, clock=clock, dead_letters=DeadLetters(store))
    source.set("credit", "error_rate", 0.5)
    original = ev._history

    def hostile_history(*args: Any) -> list[dict[str, Any]]:
        rows = original(*args)
        return [*rows, {**rows[0], "message": "bad \ud800"}] if rows else rows

    ev._history = hostile_history  # type: ignore[method-assign]
    ev.tick()
    events = store.alerts.list_alert_events("credit", "errors", oldest_first=True, limit=None)
    assert [e["kind"] for e in events] == ["state"]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.alert_states)).scalar() == 1
    assert len(store.dead_letters.list_dead_letters(worker="alert-evaluator")) == 1
