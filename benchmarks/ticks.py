"""Controller tick, concept-drift window and alert-evaluator cost: full re-read against
incremental windows.

    python benchmarks/ticks.py                          # 10^7 rows of history, SQLite
    python benchmarks/ticks.py --rows 1000000 --window 120 --ticks 5   # a quicker run
    python benchmarks/ticks.py --database-url postgresql://postgres@127.0.0.1/test
                                                        # in a scratch schema, dropped after

A fresh store gets ``--rows`` prediction rows of history (a third model, one row every
10 ms before the step, time-ordered ids as the server makes them, written 50,000 at a time
through ``insert_predictions``: SQLite executemany, PostgreSQL COPY; on PostgreSQL the
daily partitions are made first, as the leader keeps them). Then, per rate in ``--rates``
(default 50 and 1,000 req/s), a model in a canary step that has been running ``--window``
seconds (v1 and v2 half and half, 2% failures, 70% of rows labelled, each label arriving
2-6 s after its prediction), with two alert rules (``concept.accuracy_drop`` and
``error_rate``, window = ``--window``; a rate's rollout is aborted and its rules disabled
before the next rate, so every tick judges one rollout). Then ``--ticks`` ticks of 2 s of
new traffic each;
every tick times, on the same store and clock, after a full garbage collection:

* **tick re-read / incr.**: a controller whose windows are dropped before every tick (it
  re-reads and decodes every row of the step window: narrow columns, labels by join)
  against the default controller (one :class:`rampup.rollout.tail.LogTail` per step,
  reading only new rows and labels); their verdicts must be equal;
* **concept re-read / incr.**: ``concept.*`` of the last ``--window`` seconds from a fresh
  :class:`rampup.drift.live.ConceptWindows` against one kept between ticks (equal);
* **alerts re-read / incr.**: one :meth:`AlertEvaluator.tick` over the model's rules with a
  fresh metric source against one kept between ticks (equal values). The monitor is off
  (as with ``RAMPUP_MONITOR=0``): ``error_rate`` has no data and costs one query;
* **legacy** (``--legacy``, once per rate): ``RolloutController(incremental=False)`` and
  ``read_log``, the code path every tick used before (on SQLite its label join is
  quadratic: minutes at 1,000 req/s).

Each cell is the median wall time over the ticks, with this process's CPU time in
brackets (on SQLite all the work is in-process; on PostgreSQL the server's share is not
in it). Ratio = re-read / incremental. Target: incremental flat across rates and under
50 ms per tick.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
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
        pid = f"{int(ts[i] * 1000):012x}{prefix}{i:09d}"  # time-ordered, as served
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
    """``rows`` old predictions of a third model (the log's bulk, one row every 10 ms up to
    ``before``), written 50,000 at a time (SQLite executemany, PostgreSQL COPY)."""
    t = time.perf_counter()
    step = 50_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        batch = []
        for i in range(start, start + n):
            ts = before - (rows - i) * 0.01
            pid = f"{int(ts * 1000):012x}h{i:010d}"
            batch.append({
                "id": pid, "request_id": pid, "ts": ts, "model": "history", "version": "v1",
                "role": "answer", "stage": None, "inputs": '{"x": 0.5, "city": "paris"}',
                "outputs": '{"prediction": 1}', "confidence": None, "latency_ms": 20.0,
                "error": None, "request_key": None})
        store.predictions.insert_predictions(batch)
    return time.perf_counter() - t


def ensure_partitions(store: Any, oldest: float, newest: float) -> list[str]:
    """PostgreSQL: daily partitions from ``oldest`` to ``newest`` (as the leader keeps
    them), so the history lands in its days' partitions and window queries can prune."""
    made: list[str] = []
    at = oldest
    while at <= newest + 86_400:
        made += store.partitions.ensure_partitions(at)
        at += 3 * 86_400
    return made


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


def timed(fn: Any) -> tuple[Any, float, float]:
    """``fn()``, its wall time and this process's CPU time, after a full garbage collection
    (so one path does not pay for collecting the garbage of another)."""
    gc.collect()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench_rate(store: Any, registry: Any, rate: float, window: float, ticks: int,
               now0: float, legacy: bool) -> dict[str, Any]:
    from rampup.alerts.evaluator import AlertEvaluator
    from rampup.alerts.notifiers import LogNotifier
    from rampup.alerts.runner import default_source
    from rampup.alerts.service import Alerts
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
    meta = {"metrics": {"accuracy": 0.9}}  # the reference concept drift is measured against
    registry.register(model, f"{folder / 'v1.py'}:Model", version="v1", metadata=meta)
    registry.register(model, f"{folder / 'v2.py'}:Model", version="v2", deploy=False,
                      metadata=meta)
    plan = Plan(strategy="canary", checks=["error_rate <= baseline + 0.05",
                                           "accuracy >= baseline - 0.2", "latency_p99 <= 1e4"],
                steps=[Step(kind="canary", weight=50, min_duration_s=1e9, min_requests=100)])
    rollouts = Rollouts(store, clock=lambda: now[0])
    rollouts.deploy(model, "v2", plan=plan)
    alerts = Alerts(store)
    for name, cond in (("accuracy", "concept.accuracy_drop > 0.2"),
                       ("errors", "error_rate > 0.05")):
        alerts.add(model, {"name": name, "condition": cond, "window": f"{int(window)}s"})
    rng = np.random.default_rng(int(rate))
    rows, labels = _rows(model, now[0], int(window * rate), rate, rng, f"{model}-w")
    store.predictions.insert_predictions(rows)
    now[0] = now0
    bulk_labels(store, [f for t, f in labels if t < now[0]])
    pending = [(t, f) for t, f in labels if t >= now[0]]
    del rows, labels

    def clock() -> float:
        return now[0]

    def evaluator() -> Any:
        return AlertEvaluator(store, default_source(store), clock=clock,
                              notifiers={"log": LogNotifier()})

    legacy_ctl = RolloutController(store, clock=clock, rollouts=rollouts, incremental=False)
    full = RolloutController(store, clock=clock, rollouts=rollouts)
    inc = RolloutController(store, clock=clock, rollouts=rollouts)
    concept = ConceptWindows(store, clock=clock)
    alerts_inc = evaluator()
    ref, config = Reference(0.9, 10_000), DriftConfig()
    keys = ("full", "inc", "cfull", "cinc", "afull", "ainc")
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    first: dict[str, float] = {}
    extra: dict[str, float] = {}

    def concept_of(windows: Any) -> Any:  # what the alert source asks for
        return windows.metrics(model, "v2", window, now[0])

    for k in range(ticks + 1):
        if k:
            rows, labels = _rows(model, now[0], int(TICK_S * rate), rate, rng,
                                 f"{model}-t{k:04d}-")
            store.predictions.insert_predictions(rows)
            pending += labels
            now[0] += TICK_S
            store.feedback.add_feedback([f for t, f in pending if t < now[0]])
            pending = [(t, f) for t, f in pending if t >= now[0]]
        if legacy and k == ticks:  # the old code path, once (its label join is slow)
            _, extra["legacy"], _ = timed(legacy_ctl.tick)
            _, extra["clegacy"], _ = timed(lambda: _concept(
                read_log(store, model, "v2", now[0] - window, now[0]),
                [now[0] - window, now[0]], ref, config))
        assert full.windows is not None
        full.windows.keep(set())  # re-read and decode the whole step window
        a, wf, cf = timed(full.tick)
        b, wi, ci = timed(inc.tick)
        if [(x.verdict, x.decision, x.reason) for x in a] != \
                [(x.verdict, x.decision, x.reason) for x in b]:
            raise SystemExit(f"tick {k}: the paths differ: {a} != {b}")
        perf, wcf, ccf = timed(lambda: concept_of(ConceptWindows(store, clock=clock)))
        perf2, wci, cci = timed(lambda: concept_of(concept))
        if perf != perf2:
            raise SystemExit(f"tick {k}: concept windows differ: {perf} != {perf2}")
        ea, waf, caf = timed(lambda: evaluator().tick())  # a fresh source: a re-read
        eb, wai, cai = timed(alerts_inc.tick)
        if [(e.rule, e.value) for e in ea] != [(e.rule, e.value) for e in eb]:
            raise SystemExit(f"tick {k}: alert values differ: {ea} != {eb}")
        if k == 0:
            first = {"inc": wi, "cinc": wci, "ainc": wai}
            continue
        for key, w, c in (("full", wf, cf), ("inc", wi, ci), ("cfull", wcf, ccf),
                          ("cinc", wci, cci), ("afull", waf, caf), ("ainc", wai, cai)):
            wall[key].append(w)
            cpu[key].append(c)
    # the next rate's tick and evaluator judge its own rollout and rules only
    for name in ("accuracy", "errors"):
        alerts.set_enabled(model, name, False)
    rollouts.abort(model, reason="benchmark rate done")
    shutil.rmtree(folder, ignore_errors=True)
    res: dict[str, Any] = {"rate": rate, "window_rows": int(window * rate),
                           "verdict": b[0].verdict if b else "",
                           "alert_values": {e.rule: e.value for e in eb}}
    for key in keys:
        res[f"{key}_ms"] = median_ms(wall[key])
        res[f"{key}_cpu_ms"] = median_ms(cpu[key])
        res[f"{key}_max_ms"] = max(wall[key]) * 1000 if wall[key] else float("nan")
    res.update({f"{k}_rebuild_ms": v * 1000 for k, v in first.items()})
    res["legacy_ms"] = extra.get("legacy", float("nan")) * 1000
    res["concept_legacy_ms"] = extra.get("clegacy", float("nan")) * 1000
    return res


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

    if args.database_url and args.database_url.startswith("postgresql"):
        from _logwriter import scratch_postgres

        with scratch_postgres(args.database_url) as url:
            return run(args, url)
    tmp = Path(tempfile.mkdtemp(prefix="rampup-ticks-"))
    try:
        return run(args, args.database_url or f"sqlite:///{tmp / 'rampup.db'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, url: str) -> int:
    from rampup.config import Settings
    from rampup.registry.registry import Registry
    from rampup.store import Database

    tmp = Path(tempfile.mkdtemp(prefix="rampup-ticks-project-"))
    store = Database.open(url)
    registry = Registry.from_settings(Settings(project_dir=tmp), store)  # type: ignore[arg-type]
    now0 = time.time()
    history_end = now0 - args.window - 60
    parts = ensure_partitions(store, history_end - args.rows * 0.01, now0)
    fill_s = fill_history(store, args.rows, history_end)
    console.print(f"{args.rows:,} history rows written in {fill_s:.0f} s "
                  f"({store.dialect}{f', {len(parts)} partitions' if parts else ''}); "
                  f"window {args.window:g} s, {args.ticks} ticks of {TICK_S:g} s; "
                  f"load average {os.getloadavg()[0]:.2f}")
    results = [bench_rate(store, registry, float(r), args.window, args.ticks, now0,
                          args.legacy)
               for r in args.rates.split(",")]
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    table = Table(title=f"median ms per tick, wall (this process's CPU), {args.rows:,} rows "
                        f"in the log ({store.dialect}); load average {os.getloadavg()[0]:.2f}")
    for col in ("req/s", "rows in window", "tick re-read", "tick incr.", "incr. max",
                "ratio", "concept re-read", "concept incr.", "ratio ", "alerts re-read",
                "alerts incr.", "ratio  ", "legacy tick", "legacy concept"):
        table.add_column(col, justify="right")

    def cell(r: dict[str, Any], key: str) -> str:
        return f"{r[key + '_ms']:.1f} ({r[key + '_cpu_ms']:.0f})"

    for r in results:
        table.add_row(f"{r['rate']:g}", f"{r['window_rows']:,}", cell(r, "full"),
                      cell(r, "inc"), f"{r['inc_max_ms']:.1f}",
                      f"{r['full_ms'] / r['inc_ms']:.1f}x", cell(r, "cfull"), cell(r, "cinc"),
                      f"{r['cfull_ms'] / r['cinc_ms']:.1f}x", cell(r, "afull"),
                      cell(r, "ainc"), f"{r['afull_ms'] / r['ainc_ms']:.1f}x",
                      f"{r['legacy_ms']:.0f}", f"{r['concept_legacy_ms']:.0f}")
    console.print(table)
    worst = max(max(r["inc_ms"], r["cinc_ms"], r["ainc_ms"]) for r in results)
    console.print(f"incremental median per tick at most {worst:.1f} ms (target < 50 ms); "
                  f"alert values: {[r['alert_values'] for r in results]}")
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
