"""The vision scenario: the photos and the model (fast), and its whole story on a live
server, accelerated (slow): shadow beside the inspector, the canary to partial automation,
the lighting change's drift and accuracy alarms, retraining on the new light, the rollout
of the result and both alarms resolving."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from rampup.cli import app
from rampup.store import Database
from rampup_demo.vision import MODEL, VisionPlan, run_vision
from rampup_demo.vision_model import DIM, PhoneCamera, accuracy, features, train

FAST = VisionPlan(hold_s=5.0, min_requests=40, ramp_s=6.0, window_s=20.0, timeout_s=150.0,
                  settle_s=150.0, min_new_labels=120)


def test_the_new_lamp_costs_the_studio_model_accuracy_and_retraining_wins_it_back() -> None:
    camera = PhoneCamera(seed=3)
    studio, test = camera.shoot(500), camera.shoot(300)
    dim, dim_test = camera.shoot(300, DIM), camera.shoot(300, DIM)
    w1 = train([s.pixels for s in studio], [s.label for s in studio])
    before = accuracy(w1, [s.pixels for s in test], [s.label for s in test])
    after = accuracy(w1, [s.pixels for s in dim_test], [s.label for s in dim_test])
    w2 = train([s.pixels for s in studio + dim], [s.label for s in studio + dim])
    retrained = accuracy(w2, [s.pixels for s in dim_test], [s.label for s in dim_test])
    assert before > 0.9
    assert after < before - 0.15
    assert retrained > after + 0.1
    studio_luma = np.mean([features(s.pixels)[0] for s in test])
    dim_luma = np.mean([features(s.pixels)[0] for s in dim_test])
    assert dim_luma < 0.75 * studio_luma


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--scenario", "weather", "--dir",
                                      str(tmp_path / "d")], env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert "'weather'" in result.output
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_the_vision_story_on_a_live_demo(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)
    result = run_vision(tmp_path / "vision", port=0, console=console, plan=FAST,
                        stop_after_story=True, status_every=10.0)
    text = out.getvalue()
    store = Database.open(f"sqlite:///{result.directory / 'rampup.db'}")
    try:
        events = store.alerts.list_alert_events(MODEL, kinds=["state"], limit=None,
                                                oldest_first=True)
        rollouts = {r["candidate"]: r["state"] for r in store.rollouts.list_rollouts(MODEL)}
        items = store.review.list_review_items(MODEL, statuses=["decided"], limit=5)
        versions = [v.version for v in store.models.list_versions(MODEL)]
    finally:
        store.close()
    assert rollouts.get("v1") == "promoted", text
    assert rollouts.get("v2") == "promoted", text
    assert versions == ["v1", "v2"]
    assert "shadow 100% passed" in text, text
    assert "where human said scratch" in text, text  # agreement per class
    fired = [e["rule"] for e in events if e["state"] == "firing"]
    resolved = [e["rule"] for e in events if e["state"] == "resolved"]
    lamp = text.index("a new lamp: the light on the line changes")
    for rule in ("lighting-drift", "accuracy-drop"):
        assert rule in fired, (rule, text)
        assert rule in resolved, (rule, text)
        assert text.index(f"ALARM {rule}") > lamp, (rule, text)
        assert text.index(f"resolved {rule}") > text.index("v2 step 1/1"), (rule, text)
    assert "photo.brightness" in next(e["message"] for e in events
                                      if e["rule"] == "lighting-drift"
                                      and e["state"] == "firing")
    assert f"trained and registered {MODEL}@v2" in text, text
    assert "The story is over (" in text, text
    assert result.reviewed > 0
    assert result.stats.server_errors == 0
    # the decided items kept their photo's summary, not its bytes
    assert items
    inputs = items[0]["inputs"]
    photo = (inputs if isinstance(inputs, dict) else json.loads(inputs))["photo"]
    assert photo["type"] == "image"
    assert photo["data"] is None
    assert photo["sha256"]
