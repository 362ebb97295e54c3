"""Labelled-log read benchmark: ``iter_predictions(with_labels=True)`` (what drift's
``read_log``, retraining datasets and ``rampup log export`` read) against the previous
query shape, on the same SQLite file in the same run.

    python benchmarks/labelled_log.py                # 100,000 rows, 80% labelled
    python benchmarks/labelled_log.py --rows 20000   # smoke run

A fresh SQLite store gets ``--rows`` answered predictions of one model and a label for
``--labelled`` of them (and a second, correcting label for 5%: the latest must win). The
baseline is the previous implementation, kept here verbatim: one outer join of the
predictions with a "latest label per prediction" subquery (``GROUP BY prediction_id``
over the model's feedback). The new path streams the predictions and looks their labels
up by id per chunk (the feedback index on ``prediction_id``). Both must return the same
labels. Each is timed reading the whole log and a recent window (``--window``, what
drift checks and retraining since a date read). Ratio = baseline seconds / new seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from rampup.predlog.writer import PredictionRecord
from rampup.store import Database, FeedbackRecord
from rampup.store import schema as t

MODEL = "credit"


def fill(store: Database, rows: int, labelled: float) -> float:
    """The log's rows, 0.01 s apart; returns the first row's time."""
    t0 = time.time() - rows * 0.01
    step = 20_000
    for start in range(0, rows, step):
        ids = [f"p{i:09d}" for i in range(start, min(rows, start + step))]
        store.predictions.insert_predictions([
            PredictionRecord(pid, pid, t0 + i * 0.01, MODEL, "v1", "answer",
                             {"age": i % 90, "city": "rome"}, {"prediction": i % 2}, None,
                             1.0, None, None).to_row()
            for i, pid in zip(range(start, start + len(ids)), ids, strict=True)])
        n = int(len(ids) * labelled)
        fb = [FeedbackRecord(pid, MODEL, t0 + 1, "label", None, i % 2, "bench",
                             hashlib.sha256(f"{pid}:a".encode()).hexdigest())
              for i, pid in enumerate(ids[:n])]
        fb += [FeedbackRecord(pid, MODEL, t0 + 2, "label", None, 7, "bench",
                              hashlib.sha256(f"{pid}:b".encode()).hexdigest())
               for pid in ids[:n:20]]
        store.feedback.add_feedback(fb)
    return t0


def join_query(store: Database, since: float | None,
               chunk_size: int = 10_000) -> dict[str, Any]:
    """The previous ``iter_predictions(with_labels=True)`` query."""
    p, f = t.predictions, t.feedback
    latest = (sa.select(sa.func.max(f.c.id).label("fid"))
              .where(f.c.kind == "label", f.c.model == MODEL)
              .group_by(f.c.prediction_id).subquery())
    lab = (sa.select(f.c.prediction_id, f.c.value.label("label"), f.c.ts.label("labeled_at"))
           .join(latest, latest.c.fid == f.c.id).subquery())
    q = (sa.select(*p.c, lab.c.label, lab.c.labeled_at)
         .select_from(p.outerjoin(lab, lab.c.prediction_id == p.c.id))
         .where(p.c.model == MODEL).order_by(p.c.ts, p.c.id))
    if since is not None:
        q = q.where(p.c.ts >= since)
    out: dict[str, Any] = {}
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(q)
        for part in result.partitions(chunk_size):
            out.update((r.id, r.label) for r in part)
    return out


def by_id(store: Database, since: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in store.predictions.iter_predictions(MODEL, since=since, with_labels=True):
        out.update((r["id"], r["label"]) for r in chunk)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--labelled", type=float, default=0.8)
    ap.add_argument("--window", type=float, default=0.02,
                    help="the recent fraction of the log a windowed read asks for")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Database.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        t0 = time.perf_counter()
        first = fill(store, args.rows, args.labelled)
        print(f"filled {args.rows:,} predictions, {args.labelled:.0%} labelled "
              f"({time.perf_counter() - t0:.1f} s)")
        window_start = first + args.rows * 0.01 * (1 - args.window)
        for what, since in (("whole log", None), (f"last {args.window:.0%}", window_start)):
            timings, results = {}, {}
            for name, fn in (("by id (new)", by_id), ("join (previous)", join_query)):
                t0 = time.perf_counter()
                results[name] = fn(store, since)
                timings[name] = time.perf_counter() - t0
                n = len(results[name])
                print(f"{what:10s} {name:16s} {timings[name]:8.3f} s  {n:9,} rows "
                      f"{n / timings[name]:12,.0f} rows/s")
            assert results["by id (new)"] == results["join (previous)"], "labels differ"
            ratio = timings["join (previous)"] / timings["by id (new)"]
            print(f"{what:10s} ratio previous/new: {ratio:.1f}x (same labels)")
        store.close()


if __name__ == "__main__":
    main()
