"""Retention by age (project default, per-model override, small batches; aggregates and
the audit trail kept) and erasure of one subject everywhere (HTTP admin API and CLI),
recorded as an event that names no personal data. Both stores."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from rampup.cli import app as cli_app
from rampup.project import ProjectFile
from rampup.retrain.dataset import assemble
from rampup.security.retention import apply_retention
from rampup.store import Database
from rampup.store import schema as t
from tests.automation.conftest import BASE, flushed
from tests.serving.conftest import ADMIN, Trained, record

DAY = 86_400.0


def _prediction(pid: str, model: str, ts: float, key: str | None = None) -> dict[str, Any]:
    return {"id": pid, "request_id": pid, "ts": ts, "model": model, "version": "v1",
            "role": "answer", "stage": None, "inputs": '{"x": 1}', "outputs": "1",
            "confidence": None, "latency_ms": 1.0, "error": None, "request_key": key}


def test_retention_deletes_old_rows_in_batches_and_keeps_aggregates(store: Database) -> None:
    now = 1_000 * DAY
    project = ProjectFile.model_validate({
        "retention": {"predictions": "30d", "review": "30d"},
        "models": {"short": {"retention": {"predictions": "1d", "feedback": "2d"}}}})
    for name in ("long", "short"):
        store.models.ensure_model(name)
    rows = [_prediction(f"{m}-{age}-{i}", m, now - age * DAY)
            for m in ("long", "short") for age in (0.5, 1.5, 3, 40) for i in range(4)]
    store.predictions.insert_predictions(rows)
    from rampup.store.records import FeedbackRecord

    store.feedback.add_feedback([FeedbackRecord(r["id"], r["model"], r["ts"], "label", None, 1,
                                                "user",
                                       f"fb-{r['id']}") for r in rows])
    store.review.insert_review_items([{
        "id": r["id"], "model": r["model"], "version": "v1", "request_id": r["id"],
        "created_at": r["ts"], "reason": "audit", "priority": 0, "status": "open",
        "inputs": {"x": 1}, "suggestion": None, "confidence": None, "show_suggestion": True,
        "choices": None, "weight": 1.0, "reviewers_needed": 1, "n_labels": 0} for r in rows])
    store.events.add_event("test", "deploy", model="short", details={})
    with store.engine.begin() as conn:
        conn.execute(t.metric_windows.insert().values(
            model="short", version="v1", role="answer", stage="", window_start=now - 90 * DAY,
            replica="r", window_s=60.0, updated_at=now - 90 * DAY, data={}))
    report = apply_retention(store, project, now=now, batch=3, max_batches=2, rest=0)
    assert report.more  # 6 rows per pass and kind at most: the rest waits for the next pass
    while report.more:
        report = apply_retention(store, project, now=now, batch=3, max_batches=2, rest=0)

    def left(table: sa.Table, model: str) -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(table.c.model == model)).scalar_one())

    # predictions: long keeps 30 days (12 of 16), short its own 1 day (4)
    assert (left(t.predictions, "long"), left(t.predictions, "short")) == (12, 4)
    # feedback: only short has a rule (2 days): ages 0.5 and 1.5 stay
    assert (left(t.feedback, "long"), left(t.feedback, "short")) == (16, 8)
    # review items: the project's 30 days for both
    assert (left(t.review_items, "long"), left(t.review_items, "short")) == (12, 12)
    assert left(t.metric_windows, "short") == 1  # aggregates are kept
    # the audit trail too
    assert [e.action for e in store.events.list_events("short")] == ["deploy"]
    with pytest.raises(ValueError, match="positive duration"):
        ProjectFile.model_validate({"retention": {"predictions": "0d"}})


@pytest.mark.parametrize("automation", [{"level": "ai_assist"}], indirect=True)
async def test_forget_erases_one_subject_everywhere(client: httpx.AsyncClient, store: Database,
                                                   trained: Trained, tmp_path: Path) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    subject, other = "subject-42", "other-7"
    ids: dict[str, list[str]] = {subject: [], other: []}
    for key, start in ((subject, 0), (other, 10)):
        r = await client.post(f"{BASE}/predict", headers={"x-request-key": key},
                              json=[record(trained.frame, i) for i in range(start, start + 3)])
        ids[key] = [p["id"] for p in r.json()["predictions"]]
        for pid in ids[key]:
            r = await client.post(f"{BASE}/feedback", json={"request_id": pid, "label": 1})
            assert r.status_code == 200, r.text
    await flushed(client)
    item = (await client.post(f"{BASE}/review/next", headers={"x-reviewer": "ana"})).json()
    assert item["item"]["id"] == ids[subject][0]
    await client.post(f"{BASE}/review/items/{ids[subject][0]}/decide",
                      headers={"x-reviewer": "ana"}, json={"label": 0})
    features = [c for c in trained.frame.columns if c != "y"]
    info = await asyncio.to_thread(assemble, store, "credit", tmp_path / "run", features=features,
                                   label_column="y", reference=trained.frame.iloc[100:120],
                                   since=None, now=time.time() + 1, holdout=0.3)
    store.retrain.insert_retrain_run({"model": "credit", "state": "succeeded", "trigger": "manual",
                                      "details": {}, "created_at": time.time(),
                                      "updated_at": time.time(), "dataset": info.to_dict()})
    before = len(pq.read_table(info.path)) + len(pq.read_table(info.holdout_path))

    r = await client.post("/v1/admin/forget", json={"request_key": subject})
    assert r.status_code == 401
    r = await client.post("/v1/admin/forget", json={"request_key": ""}, headers=auth)
    assert r.status_code == 422
    r = await client.post("/v1/admin/forget", json={"request_key": subject}, headers=auth)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["deleted"]["predictions"] == 3
    assert report["deleted"]["feedback"] == 4  # three labels and the review decision's
    assert report["deleted"]["review_items"] == 3
    assert report["deleted"]["review_labels"] == 1
    assert report["deleted"]["dataset rows"] == 3
    assert report["dataset_files"] >= 1
    after = len(pq.read_table(info.path)) + len(pq.read_table(info.holdout_path))
    assert before - after == 3
    for pid in ids[subject]:
        assert store.feedback.list_feedback(pid) == []
    assert all(store.feedback.list_feedback(pid) for pid in ids[other])
    assert store.predictions.subject_predictions([subject]) == []
    assert len(store.predictions.subject_predictions([other])) == 3
    [event] = store.events.list_events(action="forget")
    assert event.actor == "admin:env"
    assert subject not in json.dumps(event.details)
    assert event.details["erasure"] == report["event"]
    if store.dialect == "sqlite":
        with store.engine.begin() as conn:
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db = Path(store.engine.url.database or "")
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert subject.encode() not in raw
        assert other.encode() in raw


def test_forget_cli(tmp_path: Path) -> None:
    store = Database.open(f"sqlite:///{tmp_path / 'rampup.db'}")
    try:
        store.predictions.insert_predictions([_prediction("p1", "m", time.time(),
                                                          "alice@example.com"),
                                  _prediction("p2", "m", time.time(), "bob")])
    finally:
        store.close()
    r = CliRunner().invoke(cli_app, ["--project", str(tmp_path), "forget", "--request-key",
                                     "alice@example.com", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["deleted"]["predictions"] == 1
    r = CliRunner().invoke(cli_app, ["--project", str(tmp_path), "events", "--action", "forget"])
    assert "forget" in r.output
    assert "alice" not in r.output


def test_forget_deletes_kept_input_bytes_only_when_nobody_else_sent_them(store: Database,
                                                                        tmp_path: Path) -> None:
    from rampup.security.erase import forget

    def image(sha: str) -> str:
        return json.dumps({"img": {"type": "image", "format": "png", "bytes": 3,
                                   "sha256": sha, "metrics": {}}})

    folder = tmp_path / "bytes"
    own, shared = "a" * 64, "b" * 64
    for sha in (own, shared):
        (folder / sha[:2]).mkdir(parents=True, exist_ok=True)
        (folder / sha[:2] / f"{sha}.png").write_bytes(b"png")
    rows = [{**_prediction("p1", "m", time.time(), "subject"), "inputs": image(own)},
            {**_prediction("p2", "m", time.time(), "subject"), "inputs": image(shared)},
            {**_prediction("p3", "m", time.time(), "other"), "inputs": image(shared)}]
    store.predictions.insert_predictions(rows)
    report = forget(store, ProjectFile(), "subject", actor="test", input_bytes_dir=folder)
    assert report["deleted"]["input_files"] == 1
    assert not (folder / own[:2] / f"{own}.png").exists()
    assert (folder / shared[:2] / f"{shared}.png").exists()  # "other" sent it too
