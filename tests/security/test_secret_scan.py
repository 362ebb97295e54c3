"""The secret scan: known secrets go in through every path that keeps data (predictions,
shadow rows, review items and decisions, model errors, bad input, feedback, batch
scoring), then the SQLite file, a pg_dump of the schema, exports, retraining datasets,
dashboard and review JSON and the captured logs are searched for them. Both stores."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from rampup.batch import predict_batch
from rampup.predlog.export import export_predictions
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.retrain.dataset import assemble
from rampup.security.privacy import load_privacy
from rampup.serving.app import create_app
from rampup.store import Database
from tests.serving.conftest import ADMIN, make_settings

HERE = Path(__file__).parent
SSN = "987-65-4321"
EMAIL = "zed.quixote.secret@example.org"
NAME = "Zebulon Quixote"
NUMBER_NAME = 918273645  # sent where a string belongs: the 422 must not echo it
SECRETS = [SSN, EMAIL, NAME, "Zebulon", "Quixote", "zed.quixote", str(NUMBER_NAME)]
AUTH = {"authorization": f"Bearer {ADMIN}"}
PROJECT = {
    "privacy": {"ssn": "drop"},
    "models": {"people": {"privacy": {"email": "hash", "name": "mask"},
                          "automation": {"level": "ai_assist"}}}}


def record(age: int = 41, **kw: Any) -> dict[str, Any]:
    return {"age": age, "name": NAME, "email": EMAIL, "ssn": SSN, **kw}


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def pg_dump(url: str) -> str:
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["options"][0].split("search_path=")[1]
    out = subprocess.run(
        ["pg_dump", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "postgres", "-n", schema, parts.path.lstrip("/")],
        capture_output=True, text=True, check=True, timeout=120)
    assert "CREATE TABLE" in out.stdout
    assert "predictions" in out.stdout
    return out.stdout


def parquet_text(path: Path) -> str:
    """Decoded rows (a byte scan alone would miss compressed text) plus the raw bytes."""
    rows = pq.read_table(path).to_pylist()
    return json.dumps(rows, default=str) + path.read_bytes().decode("latin-1")


@pytest.mark.slow
async def test_no_secret_is_kept_anywhere(db_url: str, store: Database, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    project = ProjectFile.model_validate(PROJECT)
    settings = make_settings(tmp_path, monitor_flush_interval=0.05, monitor_interval=0.05)
    reg = Registry.from_settings(settings, store)
    reg.register("people", f"{HERE / 'secret_model.py'}:Scorer", version="v1")
    v2 = tmp_path / "secret_model_v2.py"
    v2.write_text((HERE / "secret_model.py").read_text() + "# v2\n")
    reg.register("people", f"{v2}:Scorer", version="v2", deploy=False)
    app = create_app(settings, project, store=store)
    seen: list[str] = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        async def call(method: str, url: str, **kw: Any) -> httpx.Response:
            r = await c.request(method, url, **kw)
            seen.append(r.text)
            return r

        r = await call("PUT", "/v1/admin/models/people/deployment", headers=AUTH,
                       json={"routes": {"v1": 100}, "mirrors": {"v2": 100}})
        assert r.status_code == 200, r.text
        st = app.state.rampup
        await asyncio.to_thread(st.runtime.refresh)
        # answers (and their shadow copies), twice: equal values hash equally
        preds = []
        for _ in range(2):
            r = await call("POST", "/v1/models/people/predict", json=[record(), record(63)],
                           headers={"x-request-key": "subject-42"})
            assert r.status_code == 200, r.text
            preds += r.json()["predictions"]
        # a model error that quotes a protected input
        r = await call("POST", "/v1/models/people/predict", json=record(-1))
        assert r.status_code == 500
        assert "[protected]" in r.json()["message"]
        # bad input on a protected field
        r = await call("POST", "/v1/models/people/predict", json=record(name=NUMBER_NAME))
        assert r.status_code == 422
        assert r.json()["field"] == "name"
        assert "not shown" in r.json()["message"]
        # feedback, and a review decision
        r = await call("POST", "/v1/models/people/feedback",
                       json={"request_id": preds[0]["id"], "label": 1})
        assert r.status_code == 200, r.text
        r = await call("POST", "/v1/models/people/review/next", headers={"x-reviewer": "ana"})
        item = r.json()["item"]
        assert item is not None
        assert "ssn" not in item["inputs"]
        assert item["inputs"]["email"].startswith("h:")
        r = await call("POST", f"/v1/models/people/review/items/{item['id']}/decide",
                       json={"label": 1}, headers={"x-reviewer": "ana"})
        assert r.status_code == 200, r.text
        await asyncio.to_thread(st.automation.flush, 5.0)
        for task in list(st.shadow_tasks):
            await task
        await asyncio.to_thread(st.writer.flush, 10.0)
        assert st.monitor is not None
        await asyncio.to_thread(st.monitor.process)
        await asyncio.to_thread(st.monitor.flush)
        for url in ("/v1/models/people/review/items?status=", "/dashboard/api/overview",
                    "/dashboard/api/models/people/metrics", "/dashboard/api/models/people/"
                    "drift/email", "/dashboard/api/models/people/drift/name",
                    "/v1/models/people/monitor", "/metrics"):
            await call("GET", url)
    # batch scoring logs rows too
    batch_in = tmp_path / "in.csv"
    pd.DataFrame([record(), record(30)]).to_csv(batch_in, index=False)
    predict_batch(store, reg, "people", batch_in, tmp_path / "scored.parquet",
                  privacy=load_privacy(store, project))

    logged = [row for chunk in store.predictions.iter_predictions("people") for row in chunk]
    roles = {row["role"] for row in logged}
    assert roles == {"answer", "shadow", "batch"}, roles
    inputs = [json.loads(row["inputs"]) for row in logged]
    assert all("ssn" not in i for i in inputs)
    hashes = {i["email"] for i in inputs if isinstance(i, dict)}
    assert len(hashes) == 1
    assert next(iter(hashes)).startswith("h:")
    assert {i["name"] for i in inputs} == {"Z****** Q******"}
    errors = [row["error"] for row in logged if row["error"]]
    assert errors
    assert all("[protected]" in e for e in errors)
    assert store.feedback.list_feedback(preds[0]["id"])

    export = tmp_path / "export.parquet"
    export_predictions(store, "people", export)
    dataset = assemble(store, "people", tmp_path / "run", features=["age", "name", "email"],
                       label_column="y", reference=None, since=None, now=time.time() + 1,
                       holdout=0.5)
    places = {
        "export": parquet_text(export),
        "train": parquet_text(Path(dataset.path)),
        "holdout": parquet_text(Path(dataset.holdout_path)),
        "http": "\n".join(seen),
        "logs": caplog.text,
    }
    if store.dialect == "sqlite":
        with store.engine.begin() as conn:
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db = Path(store.engine.url.database or "")
        places["sqlite"] = "".join(p.read_bytes().decode("latin-1")
                                   for p in db.parent.glob(db.name + "*"))
        assert "people" in places["sqlite"]
    else:
        places["pg_dump"] = pg_dump(db_url)
    assert {where: leaks(text) for where, text in places.items() if leaks(text)} == {}
