"""Monitoring configured from the project file and the environment: user-defined input
metrics by import path, and RAMPUP_MONITOR=false."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rampup.config import load_settings
from rampup.errors import ConfigError
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.monitor.conftest import settle
from tests.serving.conftest import Trained, record

PROJECT = """\
models:
  credit:
    input_metrics:
      income_k: tests.monitor.user_metrics:income_k
      broken: tests.monitor.user_metrics:broken
"""


def project_dir(tmp_path: Path, text: str) -> Path:
    """The test's project folder (where the registry fixture put the artifacts)."""
    (tmp_path / "rampup.yaml").write_text(text)
    return tmp_path


async def test_user_defined_input_metric_from_the_project_file(
        tmp_path: Path, store: Database, registry: Registry, trained: Trained) -> None:
    settings, project = load_settings(project_dir(tmp_path, PROJECT), monitor_interval=0.01,
                                      controller=False)
    app = create_app(settings, project, store=store)
    rows = [record(trained.frame, i) for i in range(12)]
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://t") as c:
        c.app = app  # type: ignore[attr-defined]
        for row in rows:
            assert (await c.post("/v1/models/credit/predict", json=row)).status_code == 200
        await settle(c)
        r = await c.get("/v1/models/credit/metrics", params={"metric": [
            "custom[income_k].mean", "custom[income_k].max", "custom[broken].errors",
            "custom[broken].count"], "since": "-5m"})
        s = r.json()["summary"]
        cat = (await c.get("/v1/models/credit/metrics/catalogue")).json()
    incomes = [float(row["income"]) / 1000 for row in rows]
    assert s["custom[income_k].mean"] == pytest.approx(sum(incomes) / len(incomes))
    assert s["custom[income_k].max"] == pytest.approx(max(incomes))
    assert (s["custom[broken].errors"], s["custom[broken].count"]) == (12, 0)
    assert cat["custom"] == ["broken", "income_k"]
    assert "custom[income_k].std" in cat["metrics"]


async def test_a_wrong_import_path_fails_the_start_naming_the_key(
        tmp_path: Path, store: Database) -> None:
    text = "models:\n  credit:\n    input_metrics:\n      x: tests.monitor.user_metrics:nope\n"
    settings, project = load_settings(project_dir(tmp_path, text), controller=False)
    app = create_app(settings, project, store=store)
    with pytest.raises(ConfigError, match=r"models\.credit\.input_metrics\.x: module "):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.parametrize(("entry", "message"), [
    ("Bad-Name: a.b:c", "input metric name 'Bad-Name'"),
    ("ok: not_an_import_path", "is not 'module:function'"),
])
def test_project_file_validates_input_metrics(tmp_path: Path, entry: str, message: str) -> None:
    text = f"models:\n  credit:\n    input_metrics:\n      {entry}\n"
    with pytest.raises(ConfigError, match=message):
        load_settings(project_dir(tmp_path, text))


async def test_monitoring_can_be_switched_off(tmp_path: Path, store: Database, registry: Registry,
                                              trained: Trained,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPUP_MONITOR", "false")
    settings, project = load_settings(tmp_path, controller=False)
    assert settings.monitor is False
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app):
        assert app.state.rampup.monitor is None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as c:
            r = await c.post("/v1/models/credit/predict", json=record(trained.frame, 0))
            assert r.status_code == 200
            bad = await c.post("/v1/models/credit/predict", json={"age": "x"})
            assert bad.status_code == 422
            fb = await c.post("/v1/models/credit/feedback",
                              json={"request_id": r.json()["request_id"], "label": 1})
            assert fb.status_code == 200
            m = await c.get("/v1/models/credit/metrics", params={"metric": "requests"})
            assert m.json()["summary"] == {"requests": None}
            assert "rampup_input_values_total" not in (await c.get("/metrics")).text
    assert store.windows.metric_windows("credit", since=0, until=1e12) == []
