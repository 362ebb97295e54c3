"""Seeded live data for monitoring tests: a reference frame, its version record, and
prediction records drawn from a shifted copy of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rampup.monitor.features import VersionInfo
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import compute_profile, infer_schema
from rampup.store import Database, VersionRecord

CITIES = ["paris", "rome", "oslo"]


def make_frame(n: int, seed: int, *, shift: float = 0.0, unseen: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, n).astype(object)
    city[rng.random(n) < unseen] = "berlin"
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(10 + shift, 3, n)),
        "k": rng.integers(0, 50, n),
        "city": city,
        "flag": rng.random(n) < 0.3,
        "note": [("word " * int(m)).strip() for m in rng.integers(0, 12, n)],
    })


def reference(seed: int = 1) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(input_schema, output, profile) of a classifier trained on ``make_frame``."""
    df = make_frame(3000, seed)
    df["note"] = df["note"] + " " + pd.Series([f"n{i}" for i in range(len(df))])  # text
    schema = infer_schema(df)
    profile = compute_profile(df, schema)
    output = {"kind": "class", "classes": [0, 1], "has_probabilities": True}
    return schema.to_dict(), output, profile


def info() -> VersionInfo:
    schema, output, profile = reference()
    return VersionInfo.from_parts(schema, output, profile)


def register(store: Database, model: str = "m", version: str = "v1") -> VersionRecord:
    schema, output, profile = reference()
    store.models.ensure_model(model)
    return store.models.add_version(VersionRecord(
        model=model, version=version, seq=store.models.next_version_seq(model), flavor="python",
        artifact_uri="-", artifact_hash=f"sha256:{version}", input_schema=schema,
        output=output, profile=profile, metadata={}, created_at=0.0, created_by="test"))


def _clean(v: Any) -> Any:
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def make_records(n: int, seed: int, *, model: str = "m", version: str = "v1",
                 t0: float = 1_000_040.0, dt: float = 0.01, role: str = "answer",
                 shift: float = 0.0, unseen: float = 0.05, error_rate: float = 0.02,
                 keys: int = 0) -> list[PredictionRecord]:
    """``n`` one-record requests; every 50th request is a 3-record one."""
    rng = np.random.default_rng(seed)
    df = make_frame(n, seed + 1000, shift=shift, unseen=unseen)
    rows = [{k: _clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]
    out: list[PredictionRecord] = []
    i = 0
    req = 0
    while i < n:
        size = 3 if req % 50 == 49 else 1
        rid = f"{seed}-r{req}"
        latency = float(rng.gamma(2.0, 4.0))
        failed = rng.random() < error_rate
        key = f"user{rng.integers(0, keys)}" if keys else None
        for j in range(min(size, n - i)):
            pid = rid if size == 1 else f"{rid}-{j}"
            p1 = float(rng.random())
            pred = int(p1 > 0.5)
            outputs = None if failed else {"prediction": pred, "probabilities": {
                "0": 1 - p1, "1": p1}, "confidence": max(p1, 1 - p1)}
            if not failed and rng.random() < 0.02:
                outputs = {"prediction": None}
            out.append(PredictionRecord(
                pid if role == "answer" else f"{pid}~{version}", rid, t0 + i * dt, model,
                version, role, rows[i], outputs,
                None if outputs is None or outputs.get("prediction") is None
                else max(p1, 1 - p1), latency, "boom" if failed else None, key))
            i += 1
        req += 1
    return out
