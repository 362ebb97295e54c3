"""Actions through the real rollout service on the real store: rollback, pause a rollout,
request retraining; a failing action is recorded and the evaluator goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from rampup.alerts.actions import ActionContext, ActionRegistry
from rampup.alerts.evaluator import AlertEvaluator
from rampup.alerts.notifiers import LogNotifier
from rampup.alerts.service import Alerts
from rampup.config import Settings
from rampup.errors import NotFoundError
from rampup.registry.registry import Registry
from rampup.rollout.service import Rollouts
from rampup.store import Database
from tests.alerts.conftest import Clock, FakeSource
from tests.rollout.conftest import MODELS


@pytest.fixture
def registry(store: Database, tmp_path: Path) -> Registry:
    reg = Registry.from_settings(Settings(project_dir=tmp_path), store)
    reg.register("m", f"{MODELS}:Healthy", version="v1")
    return reg


def evaluator(store: Database, source: FakeSource, clock: Clock, *actions: str) -> AlertEvaluator:
    Alerts(store).add("m", {"name": "errors", "condition": "error_rate > 0.05",
                            "actions": list(actions), "severity": "critical"})
    source.set("m", "error_rate", 0.4)
    return AlertEvaluator(store, source, clock=clock, notifiers={"log": LogNotifier()})


def routes(store: Database) -> dict[str, float]:
    dep = store.deployments.current_deployment("m")
    assert dep is not None
    return dict(dep.policy["routes"])


def test_rollback_to_the_previous_policy(store: Database, registry: Registry, source: FakeSource,
                                         clock: Clock) -> None:
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=True)
    assert routes(store) == {"v2": 100.0}
    ev = evaluator(store, source, clock, "rollback")
    [result] = ev.tick()
    assert result.actions == {"rollback": "rolled m back to v1 100%"}
    assert routes(store) == {"v1": 100.0}
    dep = store.deployments.current_deployment("m")
    assert dep is not None
    assert dep.actor == "alert:errors"
    assert "alert errors (critical): error_rate = 0.4" in dep.reason
    [action] = store.alerts.list_alert_events("m", "errors", kinds=["action"])
    assert action["message"] == "rolled m back to v1 100%"
    clock.advance(30)
    assert ev.tick()[0].actions == {}  # once per episode
    ev.dispatcher.close()


def test_rollback_of_an_active_canary(store: Database, registry: Registry, source: FakeSource,
                                      clock: Clock) -> None:
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    Rollouts(store).deploy("m", "v2")
    assert "v2" in routes(store)
    ev = evaluator(store, source, clock, "rollback")
    ev.tick()
    status = Rollouts(store).status("m")
    assert status.rollout is not None
    assert status.rollout.state == "rolled_back"
    assert routes(store) == {"v1": 100.0}
    ev.dispatcher.close()


def test_pause_rollout(store: Database, registry: Registry, source: FakeSource,
                       clock: Clock) -> None:
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    r = Rollouts(store).deploy("m", "v2")
    assert r is not None
    before = routes(store)
    ev = evaluator(store, source, clock, "pause_rollout", "retrain")
    [result] = ev.tick()
    assert result.actions["pause_rollout"] == f"paused rollout #{r.id} of v2 at step 1"
    status = Rollouts(store).status("m")
    assert status.rollout is not None
    assert status.rollout.state == "paused"
    assert routes(store) == before  # paused where it was
    assert result.actions["retrain"].startswith("retrain requested")
    [event] = [e for e in store.events.list_events("m") if e.action == "retrain_requested"]
    assert event.actor == "alert:errors"
    assert event.details["rule"] == "errors"
    assert event.details["value"] == 0.4
    ev.dispatcher.close()


def test_pause_without_a_rollout_says_so(store: Database, registry: Registry,
                                         source: FakeSource, clock: Clock) -> None:
    ev = evaluator(store, source, clock, "pause_rollout")
    assert ev.tick()[0].actions == {"pause_rollout": "m has no active rollout; nothing to pause"}
    ev.dispatcher.close()


def test_a_failing_action_is_recorded(store: Database, registry: Registry, source: FakeSource,
                                      clock: Clock) -> None:
    ev = evaluator(store, source, clock, "rollback", "retrain")  # v1 only: nothing to go back to
    Alerts(store).add("m", {"name": "other", "condition": "latency_p99 > 1"})
    source.set("m", "latency_p99", 5.0)
    results = {r.rule: r for r in ev.tick()}
    assert results["errors"].actions["rollback"] == "m has no earlier deployment to roll back to"
    assert results["errors"].actions["retrain"].startswith("retrain requested")
    assert results["other"].state == "firing"  # the other rule was still evaluated
    kinds = [(e["kind"], e["details"].get("action"))
             for e in store.alerts.list_alert_events("m", "errors", oldest_first=True)]
    assert ("action_failed", "rollback") in kinds
    assert ("action", "retrain") in kinds
    ev.dispatcher.close()


def test_registry_runs_custom_actions_and_rejects_unknown(store: Database) -> None:
    from rampup.alerts.rules import AlertRule
    from rampup.alerts.spec import AlertRuleSpec

    reg = ActionRegistry({"retrain": lambda ctx: f"training {ctx.rule.model}"})
    rule = AlertRule.from_spec("m", AlertRuleSpec(name="r", condition="accuracy < 0.8"))
    ctx = ActionContext(store, rule, {"message": "low"})
    assert reg.run("retrain", ctx) == "training m"
    assert ctx.reason == "alert r (warning): low"
    with pytest.raises(NotFoundError, match="unknown alert action 'page'"):
        reg.run("page", ctx)
