"""Rows the store contract tests write."""

from __future__ import annotations

import json
from typing import Any

from rampup.store import Database, FeedbackRecord, VersionRecord

T0 = 1_700_000_000.0


def pred(i: int, *, model: str = "m", version: str = "v1", role: str = "answer",
         ts: float | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"p{i:05d}", "request_id": f"r{i // 2:05d}",
        "ts": T0 + i if ts is None else ts, "model": model, "version": version,
        "role": role, "stage": None, "inputs": json.dumps({"age": 20 + i % 50, "city": "Oslo"}),
        "outputs": json.dumps({"prediction": i % 2, "probabilities": {"0": 0.4, "1": 0.6}}),
        "confidence": 0.6, "latency_ms": 1.25, "error": None, "request_key": None,
    }
    row.update(extra)
    return row


def label(pid: str, value: Any, *, ts: float = T0 + 10_000, model: str = "m",
          key: str | None = None, source: str = "user") -> FeedbackRecord:
    return FeedbackRecord(prediction_id=pid, model=model, ts=ts, kind="label", name=None,
                          value=value, source=source, dedupe_key=key or f"{pid}:{value}:{ts}")


def event(pid: str, name: str, *, key: str, model: str = "m") -> FeedbackRecord:
    return FeedbackRecord(prediction_id=pid, model=model, ts=T0 + 5, kind="event", name=name,
                          value={"after_s": 3.5}, source="user", dedupe_key=key)


def all_rows(store: Database, model: str = "m", **kwargs: Any) -> list[dict[str, Any]]:
    return [row for chunk in store.predictions.iter_predictions(model, **kwargs) for row in chunk]


def version(model: str, name: str, seq: int, *, artifact_hash: str = "sha256:aa") -> VersionRecord:
    return VersionRecord(
        model=model, version=name, seq=seq, flavor="sklearn",
        artifact_uri=f"artifacts/{model}/{name}.joblib", artifact_hash=artifact_hash,
        input_schema={"features": [{"name": "age", "type": "float"}]},
        output={"kind": "class", "classes": [0, 1]},
        profile=None, metadata={"metrics": {"auc": 0.81}, "params": {"C": 1.0}},
        created_at=1_700_000_000.5 + seq, created_by="tester",
    )
