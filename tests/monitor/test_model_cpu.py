"""Honest resource metrics: a version's own cost is the CPU time inside its model calls
(``model_cpu_ms``, per call), while CPU and memory of the serving process are shown per
process (replica), never as if they belonged to one version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rampup.alerts.spec import AlertRuleSpec
from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.app_client import app_client
from tests.monitor.conftest import monitor_of, settle

MODELS = '''
class Heavy:
    def predict(self, rows):
        total = 0
        for i in range(300_000):  # a fixed amount of CPU work per call
            total += i % 7
        return [total + len(r) for r in rows]


class Light:
    def predict(self, rows):
        return [len(r) for r in rows]
'''


@pytest.fixture
async def client(store: Database, settings: Settings, tmp_path: Path,
                 ) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "models.py").write_text(MODELS)
    reg = Registry.from_settings(settings, store)
    reg.register("heavy", f"{tmp_path / 'models.py'}:Heavy")
    reg.register("light", f"{tmp_path / 'models.py'}:Light")
    async with app_client(settings, store) as c:
        yield c


async def _cpu_ms(client: httpx.AsyncClient, model: str) -> float:
    r = await client.get(f"/v1/models/{model}/metrics",
                         params={"metric": "model_cpu_ms", "since": "-10m"})
    assert r.status_code == 200, r.text
    value = r.json()["summary"]["model_cpu_ms"]
    assert value is not None, f"no model_cpu_ms for {model}"
    return float(value)


async def test_model_cpu_is_per_version_and_process_levels_per_replica(
        client: httpx.AsyncClient) -> None:
    for model in ("heavy", "light"):
        for i in range(6):
            r = await client.post(f"/v1/models/{model}/predict", json={"i": i})
            assert r.status_code == 200, r.text
    await settle(client)
    heavy, light = await _cpu_ms(client, "heavy"), await _cpu_ms(client, "light")
    # both run in one process: a process-wide number would be the same for the two
    assert heavy > 20 * light
    assert heavy > 1.0

    replica = monitor_of(client).replica
    body = (await client.get("/dashboard/api/models/light/metrics",
                             params={"range": "15m"})).json()
    assert "cpu_percent" not in body["software"]
    assert "model_cpu_ms" in body["software"]
    memory = body["processes"]["memory_rss_mb"]
    assert list(memory) == [replica]  # keyed by process, not by version
    assert max(v for v in memory[replica] if v is not None) > 10

    metrics = (await client.get("/metrics")).text
    assert 'rampup_model_cpu_seconds_total{model="heavy",version="v1"}' in metrics
    assert "rampup_process_resident_memory_bytes{replica=" in metrics


def test_alert_rules_cannot_pin_process_levels_to_a_version() -> None:
    AlertRuleSpec(name="hot", condition="cpu_percent > 90")  # the serving processes: fine
    with pytest.raises(ValueError, match="model_cpu_ms"):
        AlertRuleSpec(name="hot", condition="cpu_percent > 90", version="v1")
    AlertRuleSpec(name="slow-model", condition="model_cpu_ms > 50", version="v1")
