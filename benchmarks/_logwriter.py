"""Prediction-log write throughput: the real LogWriter draining into the real Database.

Records look like what the predict route logs for the benchmark model: 16 numeric
inputs, the response item (prediction, probabilities, confidence, id) as outputs,
a latency and a time. They are built before the clock starts; the clock covers
handing them to the writer and waiting until every row is committed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sqlalchemy as sa

from rampup.config import Settings
from rampup.predlog.writer import LogWriter, PredictionRecord
from rampup.store import Database
from rampup.store.engine import normalise_url

N_FEATURES = 16


def make_records(n: int, seed: int = 11, model: str = "loan-default") -> list[PredictionRecord]:
    rng = np.random.default_rng(seed)
    names = [f"feature_{j:02d}" for j in range(N_FEATURES)]
    values = rng.normal(0, 1, (n, N_FEATURES)) * rng.lognormal(3, 2, N_FEATURES)
    p1 = rng.random(n).tolist()
    lat = rng.gamma(2.0, 0.4, n).tolist()
    t0 = time.time()
    out = []
    for i in range(n):
        rid = f"{int(t0 * 1000):012x}{os.urandom(10).hex()}"
        p = p1[i]
        item = {"prediction": int(p >= 0.5), "probabilities": {"0": 1.0 - p, "1": p},
                "confidence": max(p, 1.0 - p), "id": rid}
        inputs = dict(zip(names, np.round(values[i], 4).tolist(), strict=True))
        out.append(PredictionRecord(rid, rid, t0 + i * 1e-4, model, "v1", "answer", inputs,
                                    item, max(p, 1.0 - p), lat[i], None, None))
    return out


def measure(url: str, records: list[PredictionRecord], *,
            settings: Settings | None = None, migrate: bool = True) -> dict[str, Any]:
    """Write ``records`` through a LogWriter configured like the server; rows/s and checks.
    ``migrate=False`` writes into the schema as it is (an older revision's tables)."""
    s = settings or Settings()
    store = Database.open(url, migrate=migrate)
    try:
        before = store.predictions.count_predictions()
        writer = LogWriter(store, queue_size=s.log_queue_size, batch_size=s.log_batch_size,
                           flush_interval=s.log_flush_interval,
                           block_timeout=s.log_block_timeout).start()
        t0 = time.perf_counter()
        writer.submit_blocking(records)
        flushed = writer.flush(timeout=600)
        seconds = time.perf_counter() - t0
        writer.stop()
        stored = store.predictions.count_predictions() - before
    finally:
        store.close()
    n = len(records)
    backend = normalise_url(url).split(":", 1)[0].split("+", 1)[0]
    return {"backend": backend, "rows": n, "seconds": seconds,
            "rows_per_s": n / seconds if seconds > 0 else 0.0, "flushed": flushed,
            "written": writer.stats.written, "stored": stored,
            "dropped": writer.stats.dropped, "failed": writer.stats.failed,
            "batches": writer.stats.batches, "batch_size": s.log_batch_size}


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(url), connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        try:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()
