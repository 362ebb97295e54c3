"""Embedding drift of a version whose outputs carry an embedding: the reference sample is
kept at registration, ``rampup drift`` reports the MMD test beside the feature tests
(table and --json), and alert rules on ``drift.embedding`` are accepted and computed.
A generated shift of the inputs (hence of the embeddings) alarms; unshifted traffic does
not. Real HTTP app, real CLI, both stores."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.alerts.test_app_alerts import AUTH
from tests.app_client import app_client
from tests.serving.conftest import make_settings
from typer.testing import CliRunner

from rampup.alerts.available import available_problem, model_infos
from rampup.alerts.sources import AlertSource
from rampup.cli import app as cli
from rampup.config import Settings
from rampup.drift.check import check_model
from rampup.drift.embeddings import REFERENCE_ROWS, embedding_check, reference_embedding_profile
from rampup.monitor.query import StoreMetricSource
from rampup.registry.registry import Registry
from rampup.store import Database

MODELS = Path(__file__).with_name("embedding_models.py")
runner = CliRunner()


def _rows(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    x = np.random.default_rng(seed).normal(size=(n, 4))
    x[:, :2] += shift
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, database_url=db_url)


@pytest.fixture
def registry(store: Database, settings: Settings, tmp_path: Path) -> Registry:
    ref = tmp_path / "ref.csv"
    _rows(1500, 1).to_csv(ref, index=False)
    reg = Registry.from_settings(settings, store)
    reg.register("enc", f"{MODELS}:encoder", reference=ref, version="v1")
    plain = tmp_path / "plain.py"
    plain.write_text("class Plain:\n    input_schema = [{'name': 'x0', 'dtype': 'float'}]\n"
                     "    output = {'kind': 'number'}\n"
                     "    def predict(self, frame):\n"
                     "        return [float(v) for v in frame['x0']]\n\nplain = Plain()\n")
    reg.register("plain", f"{plain}:plain", reference=_rows(200, 2)[["x0"]], version="v1")
    return reg


@pytest.fixture
async def client(store: Database, settings: Settings, registry: Registry,
                 ) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, store) as c:
        yield c


async def _send(client: httpx.AsyncClient, frame: pd.DataFrame) -> None:
    records = frame.to_dict(orient="records")
    for i in range(0, len(records), 50):
        r = await client.post("/v1/models/enc/predict", json=records[i:i + 50])
        assert r.status_code == 200, r.text
        assert "embedding" in r.json()["predictions"][0]["prediction"]
    assert client.app.state.rampup.writer.flush(10.0)  # type: ignore[attr-defined]


def test_registration_keeps_a_bounded_reference_sample(registry: Registry) -> None:
    v = registry.get("enc", "v1")
    emb = v.profile["embedding"]
    assert emb["field"] == "embedding"
    assert emb["dims"] == 8
    assert emb["rows"] == 1500
    assert len(emb["sample"]) == REFERENCE_ROWS
    assert v.output["embedding"] == "embedding"
    assert "embedding" not in registry.get("plain", "v1").profile


async def test_an_embedding_shift_alarms_and_unshifted_traffic_does_not(
        client: httpx.AsyncClient, store: Database, settings: Settings, tmp_path: Path) -> None:
    t0 = time.time() - 1
    await _send(client, _rows(300, 11))
    t1 = time.time()
    await _send(client, _rows(300, 12, shift=0.6))
    t2 = time.time() + 1

    calm = check_model(store, "enc", since=t0, until=t1, source="log", concept=False)
    assert calm.embedding is not None
    assert not calm.embedding.drifted
    assert calm.embedding.rows == 300
    shifted = check_model(store, "enc", since=t1, until=t2, source="log", concept=False)
    assert shifted.embedding is not None
    assert shifted.embedding.drifted
    assert shifted.embedding.effect > calm.embedding.effect

    # the alert source computes drift.embedding for a rule's window
    alerts = AlertSource(store, StoreMetricSource(store))
    quiet = alerts.value("enc", "drift.embedding.p_value", window_s=t1 - t0, now=t1)
    loud = alerts.value("enc", "drift.embedding.p_value", window_s=t2 - t1, now=t2)
    assert quiet is not None
    assert quiet >= 0.05
    assert loud is not None
    assert loud < 0.05
    assert alerts.value("plain", "drift.embedding", window_s=60, now=t2) is None

    # rules on it: accepted for the model with embeddings, refused (4xx, named) otherwise
    r = await client.post("/v1/admin/models/enc/alerts",
                          json={"name": "emb", "condition": "drift.embedding > 0.1"},
                          headers=AUTH)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/admin/models/plain/alerts",
                          json={"name": "emb", "condition": "drift.embedding > 0.1"},
                          headers=AUTH)
    assert r.status_code == 422, r.text
    assert "carry an embedding" in r.json()["message"]
    assert r.json()["field"] == "condition"

    # the CLI: table and --json
    (tmp_path / "rampup.yaml").write_text(f"name: t\ndatabase_url: '{settings.database_url}'\n")
    args = ["-p", str(tmp_path), "drift", "enc", "--source", "log", "--since", f"epoch:{t1}",
            "--until", f"epoch:{t2}"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    line = text.split("embedding (embedding, 300 of 300 rows vs 1000 reference): MMD ")[1]
    assert line.split(" -> ")[1].startswith("drift")
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["embedding"]["drifted"] is True
    assert data["embedding"]["n_ref"] == REFERENCE_ROWS
    assert data["metrics"]["drift.embedding.p_value"] < 0.05
    assert data["metrics"]["drift.embedding"] == pytest.approx(data["embedding"]["effect"])


def test_alert_validation_needs_a_version_with_embeddings(store: Database,
                                                          registry: Registry) -> None:
    assert available_problem("drift.embedding", model_infos(store, "enc")) is None
    problem = available_problem("drift.embedding.p_value", model_infos(store, "plain"))
    assert problem is not None
    assert "carry an embedding" in problem


def test_the_check_is_bounded_and_skips_without_embeddings() -> None:
    rng = np.random.default_rng(0)
    ref = reference_embedding_profile([{"embedding": list(v)} for v in rng.normal(size=(50, 3))])
    assert ref is not None
    assert ref["dims"] == 3
    many = [{"embedding": list(v)} for v in rng.normal(size=(2500, 3))]
    res = embedding_check(ref, many)
    assert res is not None
    assert res.rows == 2500
    assert res.result.n_cur == 2000
    assert embedding_check(ref, [{"label": 1}, 3.0, None]) is None
    assert embedding_check(ref, [{"embedding": [1.0, 2.0]}] * 5) is None  # other dims
    assert reference_embedding_profile([{"embedding": [1.0, float("nan")]}] * 3) is None


FUNCTION = "tests.drift.embedding_models:embed_record"


async def test_a_user_embedding_function_from_the_project_file(
        client: httpx.AsyncClient, store: Database, settings: Settings, registry: Registry,
        tmp_path: Path) -> None:
    """``embedding_function`` in rampup.yaml: applied to the reference at registration
    (``rampup register`` reads it from the project file) and to logged records in checks."""
    ref = tmp_path / "ref.csv"
    (tmp_path / "rampup.yaml").write_text(
        f"name: t\ndatabase_url: '{settings.database_url}'\nmodels:\n  lin:\n"
        f"    embedding_function: '{FUNCTION}'\n")
    result = runner.invoke(cli, ["-p", str(tmp_path), "register", "lin",
                                 f"{MODELS}:linear", "--reference", str(ref),
                                 "--version", "v1"])
    assert result.exit_code == 0, result.output
    v = registry.get("lin", "v1")
    assert v.profile["embedding"]["function"] == FUNCTION
    assert v.profile["embedding"]["dims"] == 8
    assert available_problem("drift.embedding", model_infos(store, "lin")) is None

    for _ in range(600):  # the server picks the new deployment up on its next poll
        r = await client.get("/v1/models/lin")
        if r.status_code == 200:
            break
        await asyncio.sleep(0.05)
    stamps = [time.time() - 1]
    for frame in (_rows(200, 21), _rows(200, 22, shift=0.6)):
        records = frame.to_dict(orient="records")
        for i in range(0, len(records), 50):
            r = await client.post("/v1/models/lin/predict", json=records[i:i + 50])
            assert r.status_code == 200, r.text
        assert client.app.state.rampup.writer.flush(10.0)  # type: ignore[attr-defined]
        stamps.append(time.time())
    t0, t1, t2 = stamps[0], stamps[1], stamps[2] + 1
    calm = check_model(store, "lin", since=t0, until=t1, source="log", concept=False)
    assert calm.embedding is not None
    assert not calm.embedding.drifted
    shifted = check_model(store, "lin", since=t1, until=t2, source="log", concept=False)
    assert shifted.embedding is not None
    assert shifted.embedding.drifted


def test_the_project_file_checks_the_function_path() -> None:
    from rampup.errors import ConfigError
    from rampup.project import parse_project

    with pytest.raises(ConfigError, match="embedding_function"):
        parse_project({"models": {"m": {"embedding_function": "not a path"}}})
