"""``rampup alerts ...``, ``rampup export ...`` and ``rampup monitor --once`` through the
CLI runner, on a real project store (and a real server for ``monitor``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import Settings, load_settings
from rampup.monitor.recorder import Monitor
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo.server import BackgroundServer
from tests.alerts.conftest import Receiver
from tests.monitor.helpers import make_records
from tests.monitor.helpers import register as register_monitored
from tests.rollout.conftest import MODELS

runner = CliRunner()

PROJECT = """
name: shop
alerting:
  notifiers:
    hook: {{type: webhook, url: "{url}", retries: 0}}
models:
  m:
    slo: {{latency_p99_ms: 400}}
    alerts:
      - name: errors
        condition: error_rate > 0.05 for 5m
        severity: critical
        notify: [log, hook]
        actions: [rollback]
      - name: income-missing
        condition: feature[income].missing_fraction > 0.3
"""


def setup_project(tmp_path: Path, url: str = "http://127.0.0.1:9/hook") -> None:
    (tmp_path / "rampup.yaml").write_text(PROJECT.format(url=url))
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    Registry.from_settings(settings, store).register("m", f"{MODELS}:Healthy", version="v1")
    store.close()


def run(tmp_path: Path, *args: str, code: int = 0) -> str:
    """The command's output with line breaks and runs of spaces folded (rich wraps)."""
    result = runner.invoke(app, ["-p", str(tmp_path), *args])
    assert result.exit_code == code, result.output
    return result.output if "--json" in args or args[1:2] == ("suggest",) else \
        " ".join(result.output.split())


def test_rules_lifecycle(tmp_path: Path) -> None:
    setup_project(tmp_path)
    rules = {r["name"]: r for r in json.loads(run(tmp_path, "alerts", "list", "--json"))}
    assert rules["errors"]["condition"] == "error_rate > 0.05"
    assert rules["income-missing"]["condition"] == "feature[income].missing_fraction > 0.3"
    assert {r["source"] for r in rules.values()} == {"project"}
    out = run(tmp_path, "alerts", "list", "m")
    assert "alert rules of m" in out
    assert "errors" in out
    out = run(tmp_path, "alerts", "add", "m", "slow", "-c", "latency_p99 > 300 for 1m",
              "--severity", "critical", "-a", "pause_rollout", "--label", "team=risk",
              "--version", "v1")
    assert "added m/slow: latency_p99 > 300 (for 1m, critical)" in out
    rules = {r["name"]: r for r in json.loads(run(tmp_path, "alerts", "list", "m", "--json"))}
    assert rules["slow"]["source"] == "runtime"
    assert rules["slow"]["labels"] == {"team": "risk"}
    assert rules["slow"]["actions"] == ["pause_rollout"]
    assert rules["errors"]["for_s"] == 300
    out = run(tmp_path, "alerts", "add", "m", "slow", "-c", "latency_p99 > 1", code=2)
    assert "already exists (runtime)" in out
    rule_file = tmp_path / "more.yaml"
    rule_file.write_text(yaml.safe_dump({"alerts": [
        {"name": "traffic-low", "condition": "throughput < 0.5", "for": "10m"},
        {"name": "shadow-errors", "condition": "error_rate > 0.1", "role": "shadow"}]}))
    out = run(tmp_path, "alerts", "add", "m", "--file", str(rule_file))
    assert "added m/traffic-low" in out
    assert "added m/shadow-errors" in out
    assert "disabled" in run(tmp_path, "alerts", "disable", "m", "errors")
    assert "enabled" in run(tmp_path, "alerts", "enable", "m", "errors")
    out = run(tmp_path, "alerts", "remove", "m", "errors", code=2)
    assert "comes from the project file" in out
    assert "rampup alerts disable m errors" in out
    assert "removed m/slow" in run(tmp_path, "alerts", "remove", "m", "slow")
    out = run(tmp_path, "alerts", "add", "m", "x", "-c", "latncy_p99 > 1", code=2)
    assert "did you mean 'latency_p99'" in out
    out = run(tmp_path, "alerts", "add", "m", "x", "-c", "feature[incme].missing > 1", code=2)
    assert "unknown metric 'feature[incme].missing'" in out  # brackets are not markup
    assert "METRIC OP NUMBER [for DURATION]" in out
    out = run(tmp_path, "alerts", "add", "m", "x", "-c", "error_rate > 1", "-a", "page",
              code=2)
    assert "unknown action(s) page" in out
    out = run(tmp_path, "alerts", "add", "m", "x", code=2)
    assert "give a rule NAME and --condition" in out


def test_project_file_errors_name_the_rule(tmp_path: Path) -> None:
    (tmp_path / "rampup.yaml").write_text(
        "models:\n  m:\n    alerts:\n      - {name: a, condition: 'error_rate > 0.1 for 5 min'}\n")
    out = run(tmp_path, "alerts", "list", code=2)
    assert "models.m.alerts.0.condition" in out
    assert "cannot read '5 min' as a duration" in out


def test_history_and_test_with_a_webhook(tmp_path: Path, receiver: Receiver) -> None:
    setup_project(tmp_path, receiver.url)
    run(tmp_path, "alerts", "list")
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    now = time.time()
    store.alerts.add_alert_events([
        {"model": "m", "rule": "errors", "ts": now - 60, "kind": "state", "state": "firing",
         "value": 0.2, "message": "error_rate = 0.2 over 5m (alarm when > 0.05)"},
        {"model": "m", "rule": "errors", "ts": now - 30, "kind": "state",
         "state": "resolved", "value": 0.01, "message": "back to normal"}])
    store.close()
    out = run(tmp_path, "alerts", "history", "m")
    assert "firing" in out
    assert "resolved" in out
    assert out.index("resolved") < out.index("firing")  # newest first
    rows = json.loads(run(tmp_path, "alerts", "history", "m", "errors", "--json",
                          "--since", "45s"))
    assert [r["state"] for r in rows] == ["resolved"]
    out = run(tmp_path, "alerts", "test", "m", "errors", "--notify")
    assert "has no data over 5m" in out
    assert "quiet" in out
    assert "notifier log: ok" in out
    assert "notifier hook: ok" in out
    [sent] = receiver.received
    assert (sent["state"], sent["rule"], sent["test"]) == ("test", "errors", True)
    out = run(tmp_path, "alerts", "test", "m", "-c", "requests >= 0")
    assert "m/test" in out


def seed_monitored(tmp_path: Path) -> None:
    """A day of seeded traffic in the store's metric windows, through the real monitor."""
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    register_monitored(store, "m", "v1")
    now = time.time()
    start = now - 86_400 + 1
    mon = Monitor(store, window_s=300.0, keep_s=0.0, clock=lambda: now)
    mon.offer(make_records(2880, seed=7, model="m", t0=start, dt=30.0, error_rate=0.02))
    mon.process()
    mon.flush()
    store.close()


def test_suggest_and_review(tmp_path: Path) -> None:
    (tmp_path / "rampup.yaml").write_text("models:\n  m:\n    slo: {latency_p99_ms: 400}\n")
    seed_monitored(tmp_path)
    out = run(tmp_path, "alerts", "suggest", "m", "--since", "2d")
    doc = yaml.safe_load(out)
    conds = {a["condition"].split(" ")[0]: a for a in doc["alerts"]}
    assert {"error_rate", "latency_p99", "latency_p50", "throughput",
            "feature[x].missing_fraction", "feature[city].missing_fraction"} <= set(conds)
    assert conds["latency_p99"]["condition"] == "latency_p99 > 400 for 5m"  # the SLO wins
    assert "SLO 400 ms" in conds["latency_p99"]["description"]
    out = run(tmp_path, "alerts", "suggest", "m", "--since", "2d", "--apply")
    assert "added" in out
    rules = json.loads(run(tmp_path, "alerts", "list", "m", "--json"))
    assert len(rules) == len(doc["alerts"])
    assert {r["source"] for r in rules} == {"runtime"}
    out = run(tmp_path, "alerts", "review", "m", "--since", "30d")
    assert "never_fired" in out
    reviews = json.loads(run(tmp_path, "alerts", "review", "m", "--json"))
    assert {r["verdict"] for r in reviews} == {"never_fired"}


def test_exports(tmp_path: Path) -> None:
    setup_project(tmp_path)
    dash = tmp_path / "dashboard.json"
    out = run(tmp_path, "export", "grafana", "m", "-o", str(dash))
    assert "wrote" in out
    board = json.loads(dash.read_text())
    assert board["title"] == "rampup: m"
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"]) >= 15
    rules_file = tmp_path / "rules.yml"
    out = run(tmp_path, "export", "prometheus-rules", "-o", str(rules_file))
    assert "2 rule(s)" in out
    doc = yaml.safe_load(rules_file.read_text())
    [group] = doc["groups"]
    assert group["name"] == "rampup-shop"
    names = [r["alert"] for r in group["rules"]]
    assert names == ["RampupMErrors", "RampupMIncomeMissing"]
    run(tmp_path, "alerts", "add", "m", "mean-age", "-c", "feature[age].mean > 60")
    out = run(tmp_path, "export", "prometheus-rules", "-o", str(rules_file), "--runtime")
    assert "skipped m/mean-age: feature[age].mean is computed by rampup" in out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    setup_project(tmp_path)
    settings = Settings(project_dir=tmp_path, admin_token=SecretStr("adm"),
                        monitor_interval=0.01, monitor_flush_interval=0.05)
    _, project = load_settings(tmp_path)
    srv = BackgroundServer(create_app(settings, project), port=0).start()
    yield srv.url
    srv.stop()


def test_monitor_once_against_a_real_server(server: str, tmp_path: Path) -> None:
    import httpx

    with httpx.Client(base_url=server) as c:
        for i in range(30):
            assert c.post("/v1/models/m/predict", json={"x": (i % 10) / 10}).status_code == 200
        assert c.post("/v1/models/m/predict", json={"x": "abc"}).status_code == 500
    deadline = time.time() + 10
    out = ""
    while time.time() < deadline:
        result = runner.invoke(app, ["monitor", "m", "--url", server, "--once",
                                     "--window", "10m"], env={"COLUMNS": "160"})
        assert result.exit_code == 0, result.output
        out = result.output
        if " 31 " in out:
            break
        time.sleep(0.1)
    assert "traffic" in out
    assert "v1" in out
    assert " 31 " in out  # requests over the window
    assert "3.23%" in out  # 1 error in 31
    assert "alerts" in out
    assert "errors" in out
    assert "income-missing" in out
    assert "ok" in out
    result = runner.invoke(app, ["monitor", "nope", "--url", server, "--once"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = runner.invoke(app, ["monitor", "m", "--url", "http://127.0.0.1:9", "--once"])
    assert result.exit_code == 2
    assert "cannot reach the server" in result.output
