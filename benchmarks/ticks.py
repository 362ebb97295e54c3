"""Controller tick and concept-drift check cost: full re-read against incremental windows.

    python benchmarks/ticks.py                          # 10^7 rows of history, SQLite
    python benchmarks/ticks.py --rows 1000000           # a quicker run
    python benchmarks/ticks.py --database-url postgresql://postgres@127.0.0.1/test

A fresh store gets ``--rows`` prediction rows of history (older than the step, written in
bulk through ``insert_predictions``: SQLite executemany, PostgreSQL COPY), then, per rate
in ``--rates`` (default 50 and 1,000 req/s), a model in a canary step that has been running
``--window`` seconds (v1 and v2 half and half, 2% failures, 70% of rows labelled, each
label arriving 2-6 s after its prediction). Then ``--ticks`` ticks of 2 s of new traffic
each; every tick is timed on two controllers over the same store and the same clock:

* **re-read**: the controller with its windows dropped before every tick, so it re-reads
  and decodes every row of the step window (the fastest correct full re-read: narrow
  columns, labels fetched by id);
* **incremental**: the default controller, one :class:`rampup.rollout.tail.LogTail` per
  step, reading only new rows and labels;
* **legacy** (``--legacy``, once per rate): ``RolloutController(incremental=False)``, the
  code path every tick used before (``iter_predictions`` joined with the latest labels;
  on SQLite that join is quadratic and takes minutes at 1,000 req/s).

Concept drift (``concept.*`` of the last ``--window`` seconds, as alert rules ask for
it): the full path reads the log (``read_log``) and computes realised performance; the
incremental path is :class:`rampup.drift.live.ConceptWindows`, the re-read path a fresh
one per call, the legacy path ``read_log``. Both paths' results are
compared (the run stops if they differ). Ratio = full median / incremental median.
Target: incremental flat across rates and under 50 ms per tick.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)
TICK_S = 2.0
MODEL_FILE = '''
class Model:
    def predict(self, records):
        return [int(float(r["x"]) > 0.5) for r in records]
'''


def _rows(model: str, t0: float, n: int, rate: float, rng: np.random.Generator,
          prefix: str) -> tuple[list[dict[str, Any]], list[Any]]:
    from rampup.store import FeedbackRecord

    ts = t0 + np.arange(n) / rate
    version = np.where(rng.random(n) < 0.5, "v2", "v1")
    truth = rng.random(n) < 0.5
    fails = rng.random(n) < 0.02
    pred = np.where(rng.random(n) < 0.9, truth, ~truth).astype(int)
    lat = rng.lognormal(3, 0.4, n)
    labelled = ~fails & (rng.random(n) < 0.7)
    lag = rng.uniform(2, 6, n)
    rows, labels = [], []
    for i in range(n):
        pid = f"{prefix}{i:09d}"
        rows.append({"id": pid, "request_id": pid, "ts": float(ts[i]), "model": model,
                     "version": str(version[i]), "role": "answer", "stage": None,
                     "inputs": '{"x": 0.5, "city": "paris"}',
                     "outputs": None if fails[i] else
                     f'{{"prediction": {pred[i]}, "confidence": 0.8}}',
                     "confidence": None if fails[i] else 0.8, "latency_ms": float(lat[i]),
                     "error": "ValueError: boom" if fails[i] else None, "request_key": None})
        if labelled[i]:
            labels.append((float(ts[i] + lag[i]),
                           FeedbackRecord(pid, model, float(ts[i] + lag[i]), "label", None,
                                          int(truth[i]), "user", f"{pid}:l")))
    return rows, labels


def fill_history(store: Any, rows: int, before: float) -> float:
    """``rows`` old predictions of a third model (the log's bulk), in chunks."""
    t = time.perf_counter()
    step = 50_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        store.predictions.insert_predictions([{
            "id": f"h{start + i:010d}", "request_id": f"h{start + i:010d}",
            "ts": before - (rows - start - i) * 0.01, "model": "history", "version": "v1",
            "role": "answer", "stage": None, "inputs": '{"x": 0.5, "city": "paris"}',
            "outputs": '{"prediction": 1}', "confidence": None, "latency_ms": 20.0,
            "error": None, "request_key": None} for i in range(n)])
    return time.perf_counter() - t


def bulk_labels(store: Any, records: list[Any]) -> None:
    """The window's past labels in one executemany (setup, not timed; ticks add theirs
    through ``add_feedback``)."""
    from rampup.store import schema as t

    with store.engine.begin() as conn:
        for i in range(0, len(records), 20_000):
            conn.execute(t.feedback.insert(), [
                {"prediction_id": r.prediction_id, "model": r.model, "ts": r.ts,
                 "kind": r.kind, "name": r.name, "value": r.value, "source": r.source,
                 "dedupe_key": r.dedupe_key} for r in records[i:i + 20_000]])


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000 if xs else float("nan")


def bench_rate(store: Any, registry: Any, rate: float, window: float, ticks: int,
               now0: float, legacy: bool) -> dict[str, Any]:
    from rampup.drift.check import _concept
    from rampup.drift.concept import Reference
    from rampup.drift.live import ConceptWindows
    from rampup.drift.report import DriftConfig
    from rampup.drift.source import read_log
    from rampup.rollout.controller import RolloutController
    from rampup.rollout.plan import Plan, Step
    from rampup.rollout.service import Rollouts

    model = f"r{int(rate)}"
    now = [now0 - window]
    folder = Path(tempfile.mkdtemp())
    for v in ("v1", "v2"):
        (folder / f"{v}.py").write_text(f"# {model}@{v}\n{MODEL_FILE}")
    registry.register(model, f"{folder / 'v1.py'}:Model", version="v1")
    registry.register(model, f"{folder / 'v2.py'}:Model", version="v2", deploy=False)
    plan = Plan(strategy="canary", checks=["error_rate <= baseline + 0.05",
                                           "accuracy >= baseline - 0.2", "latency_p99 <= 1e4"],
                steps=[Step(kind="canary", weight=50, min_duration_s=1e9, min_requests=100)])
    rollouts = Rollouts(store, clock=lambda: now[0])
    rollouts.deploy(model, "v2", plan=plan)
    rng = np.random.default_rng(int(rate))
    rows, labels = _rows(model, now[0], int(window * rate), rate, rng, f"{model}-w")
    store.predictions.insert_predictions(rows)
    now[0] = now0
    bulk_labels(store, [f for t, f in labels if t < now[0]])
    pending = [(t, f) for t, f in labels if t >= now[0]]
    legacy_ctl = RolloutController(store, clock=lambda: now[0], rollouts=rollouts,
                                   incremental=False)
    full = RolloutController(store, clock=lambda: now[0], rollouts=rollouts)
    inc = RolloutController(store, clock=lambda: now[0], rollouts=rollouts)
    concept = ConceptWindows(store, clock=lambda: now[0])
    fresh = ConceptWindows(store, clock=lambda: now[0])
    ref, config = Reference(0.9, 10_000), DriftConfig()
    out: dict[str, list[float]] = {"full": [], "inc": [], "cfull": [], "cinc": [],
                                   "legacy": [], "clegacy": []}
    first: dict[str, float] = {}
    for k in range(ticks + 1):
        if k:
            rows, labels = _rows(model, now[0], int(TICK_S * rate), rate, rng, f"{model}-t{k:04d}-")
            store.predictions.insert_predictions(rows)
            pending += labels
            now[0] += TICK_S
            store.feedback.add_feedback([f for t, f in pending if t < now[0]])
            pending = [(t, f) for t, f in pending if t >= now[0]]
        if legacy and k == ticks:  # the old code path, once (its label join is slow)
            t = time.perf_counter()
            legacy_ctl.tick()
            out["legacy"] = [time.perf_counter() - t]
            t = time.perf_counter()
            log = read_log(store, model, "v2", now[0] - window, now[0])
            _concept(log, [now[0] - window, now[0]], ref, config)
            out["clegacy"] = [time.perf_counter() - t]
        assert full.windows is not None
        full.windows.keep(set())  # re-read and decode the whole step window
        fresh.tails.clear()
        gc.collect()  # each path pays for its own garbage, not for the other's
        t = time.perf_counter()
        a = full.tick()
        t1 = time.perf_counter()
        gc.collect()
        t1 = time.perf_counter()
        b = inc.tick()
        t2 = time.perf_counter()
        if [(x.verdict, x.decision, x.reason) for x in a] != \
                [(x.verdict, x.decision, x.reason) for x in b]:
            raise SystemExit(f"tick {k}: the paths differ: {a} != {b}")
        since = now[0] - window
        gc.collect()
        t3 = time.perf_counter()
        log = fresh.tail_for(model, "v2", window, now[0])
        perf, _ = _concept(log, [since, now[0]], ref, config)
        t4 = time.perf_counter()
        gc.collect()
        t4b = time.perf_counter()
        got = concept.tail_for(model, "v2", window, now[0])
        perf2, _ = _concept(got, [since, now[0]], ref, config)
        t5 = time.perf_counter()
        if [w.to_dict() for w in perf] != [w.to_dict() for w in perf2]:
            raise SystemExit(f"tick {k}: concept windows differ: {perf} != {perf2}")
        if k == 0:
            first = {"inc": t2 - t1, "cinc": t5 - t4b}
        else:
            out["full"].append(t1 - t)
            out["inc"].append(t2 - t1)
            out["cfull"].append(t4 - t3)
            out["cinc"].append(t5 - t4b)
    return {"rate": rate, "window_rows": int(window * rate), "verdict": b[0].verdict if b else "",
            "full_ms": median_ms(out["full"]), "inc_ms": median_ms(out["inc"]),
            "inc_max_ms": max(out["inc"]) * 1000, "rebuild_ms": first["inc"] * 1000,
            "concept_full_ms": median_ms(out["cfull"]), "concept_inc_ms": median_ms(out["cinc"]),
            "concept_rebuild_ms": first["cinc"] * 1000,
            "legacy_ms": median_ms(out["legacy"]), "concept_legacy_ms": median_ms(out["clegacy"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="history rows in the log")
    ap.add_argument("--rates", default="50,1000", help="req/s of logged traffic")
    ap.add_argument("--window", type=float, default=300.0,
                    help="seconds the step (and the concept window) has run")
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--legacy", action="store_true",
                    help="also time the pre-incremental code path once per rate (its "
                         "prediction+label join is quadratic on SQLite: minutes)")
    args = ap.parse_args(argv)

    from rampup.config import Settings
    from rampup.registry.registry import Registry
    from rampup.store import Database

    tmp = Path(tempfile.mkdtemp(prefix="rampup-ticks-"))
    url = args.database_url or f"sqlite:///{tmp / 'rampup.db'}"
    store = Database.open(url)
    registry = Registry.from_settings(Settings(project_dir=tmp), store)  # type: ignore[arg-type]
    now0 = time.time()
    fill_s = fill_history(store, args.rows, now0 - args.window - 60)
    console.print(f"{args.rows:,} history rows written in {fill_s:.0f} s "
                  f"({store.dialect}); window {args.window:g} s, {args.ticks} ticks of "
                  f"{TICK_S:g} s")
    results = [bench_rate(store, registry, float(r), args.window, args.ticks, now0,
                          args.legacy)
               for r in args.rates.split(",")]
    store.close()
    if args.json:
        print(json.dumps(results, indent=2))
    table = Table(title=f"tick cost, {args.rows:,} rows in the log ({url.split(':')[0]})")
    for col in ("req/s", "rows in window", "tick re-read ms", "tick incr. ms", "incr. max",
                "ratio", "concept re-read ms", "concept incr. ms", "ratio ", "legacy tick ms",
                "legacy concept ms"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(f"{r['rate']:g}", f"{r['window_rows']:,}", f"{r['full_ms']:.1f}",
                      f"{r['inc_ms']:.1f}", f"{r['inc_max_ms']:.1f}",
                      f"{r['full_ms'] / r['inc_ms']:.1f}x",
                      f"{r['concept_full_ms']:.1f}", f"{r['concept_inc_ms']:.1f}",
                      f"{r['concept_full_ms'] / r['concept_inc_ms']:.1f}x",
                      f"{r['legacy_ms']:.0f}", f"{r['concept_legacy_ms']:.0f}")
    console.print(table)
    worst = max(max(r["inc_ms"], r["concept_inc_ms"]) for r in results)
    console.print(f"incremental median per tick at most {worst:.1f} ms (target < 50 ms)")
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
