"""Partitioned prediction log (PostgreSQL): insert rate and the cost of retention.

    python benchmarks/partitions.py                  # 200,000 rows x 3 rounds, 1,000,000-row day
    python benchmarks/partitions.py --quick          # 50,000 x 2, a 100,000-row day
    python benchmarks/partitions.py --database-url postgresql://postgres@127.0.0.1:5432/test

Two scratch schemas on the same server, in the same run: one at head (``predictions``
and ``feedback`` partitioned by day, migration 0014), one migrated down to 0013 (the
plain tables). Both written through the real ``LogWriter`` with the server's settings
(COPY into a staging table, then ``INSERT ... ON CONFLICT (id)``), rounds alternating
so load drifts hit both alike.

1. **Insert rate**: rows/s into the partitioned table against the plain one (ratio
   partitioned / plain; target: at least ``--target``, 0.8).
2. **Retention of one day**: ``--day-rows`` rows of a day 40 days ago in each schema,
   then ``apply_retention`` with a 30-day retention: on the partitioned log it drops the
   day's partition (a catalog change), on the plain one it deletes in the leader's
   batches of 1,000 rows (without the rests between batches the leader takes, so the
   DELETE side is measured at its fastest). Ratio = DELETE seconds / drop seconds.

Prints the load average (``uptime``) with the numbers: on a shared 2-CPU machine both
sides slow down alike, the ratios are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

from _logwriter import make_records, measure, scratch_postgres

DAY = 86_400.0
MODEL = "loan-default"
PG_URL = os.environ.get("RAMPUP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def load() -> str:
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def insert_rates(part_url: str, plain_url: str, rows: int, rounds: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {"partitioned": [], "plain": []}
    for r in range(rounds):
        for kind, url in (("partitioned", part_url), ("plain", plain_url)):
            records = make_records(rows, seed=r * 2 + (kind == "plain"), model=MODEL)
            got = measure(url, records, migrate=kind == "partitioned")
            if got["stored"] != rows or got["failed"] or got["dropped"]:
                raise SystemExit(f"{kind}: stored {got['stored']} of {rows} rows: {got}")
            rates[kind].append(got["rows_per_s"])
            print(f"  round {r + 1} {kind:>11}: {got['rows_per_s']:>9,.0f} rows/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"rows_per_round": rows, "rounds": rounds, "rows_per_s": med,
            "all": rates, "ratio": med["partitioned"] / med["plain"]}


def fill_day(url: str, day: float, n: int, *, migrate: bool) -> None:
    """``n`` prediction rows with ids and times spread over the day starting at ``day``."""
    from rampup.store import Database

    store = Database.open(url, migrate=migrate)
    inputs = json.dumps({"age": 41, "income": 52000.0, "city": "paris"})
    step = 50_000
    try:
        for start in range(0, n, step):
            rows = []
            for i in range(start, min(n, start + step)):
                ts = day + i * (DAY - 1) / n
                rid = f"{round(ts * 1000):012x}{os.urandom(10).hex()}"
                rows.append({"id": rid, "request_id": rid, "ts": ts, "model": MODEL,
                             "version": "v1", "role": "answer", "stage": None,
                             "inputs": inputs, "outputs": "1", "confidence": 0.9,
                             "latency_ms": 1.0, "error": None, "request_key": f"u{i % 5000}"})
            store.predictions.insert_predictions(rows)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE predictions")
    finally:
        store.close()


def retention_seconds(url: str, now: float, *, migrate: bool) -> tuple[float, int, list[str]]:
    from rampup.project import ProjectFile
    from rampup.security.retention import apply_retention
    from rampup.store import Database

    project = ProjectFile.model_validate({"retention": {"predictions": "30d"}})
    store = Database.open(url, migrate=migrate)
    try:
        t0 = time.perf_counter()
        deleted, dropped = 0, []
        while True:
            report = apply_retention(store, project, now=now, models=[MODEL], batch=1000,
                                     max_batches=50, rest=0)
            deleted += report.deleted["predictions"]
            dropped += report.dropped
            if not report.more:
                break
        return time.perf_counter() - t0, deleted, dropped
    finally:
        store.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=PG_URL, help="a PostgreSQL URL")
    p.add_argument("--rows", type=int, default=200_000, help="rows per insert round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--day-rows", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="50,000 x 2 rows, a 100,000-row day")
    p.add_argument("--target", type=float, default=0.8, help="least insert-rate ratio")
    args = p.parse_args()
    rows, rounds, day_rows = ((50_000, 2, 100_000) if args.quick
                              else (args.rows, args.rounds, args.day_rows))
    from rampup.store import Database
    from rampup.store.migrate import downgrade

    print(f"start: {load()}")
    out: dict[str, Any] = {}
    with scratch_postgres(args.database_url) as part_url, \
            scratch_postgres(args.database_url) as plain_url:
        Database.open(part_url).close()
        plain = Database.open(plain_url)
        downgrade(plain.engine, "0013")  # the plain tables, as before migration 0014
        plain.close()

        print(f"insert rate, {rounds} rounds of {rows:,} rows through the LogWriter:")
        out["insert"] = insert_rates(part_url, plain_url, rows, rounds)

        now = time.time()
        day = now - now % DAY - 40 * DAY
        part = Database.open(part_url)
        part.partitions.ensure_partitions(day, 86_400, 0)
        part.close()
        for url, migrate in ((part_url, True), (plain_url, False)):
            t0 = time.perf_counter()
            fill_day(url, day, day_rows, migrate=migrate)
            print(f"  {day_rows:,} rows of one day written in {time.perf_counter() - t0:.1f} s",
                  flush=True)
        print(f"retention of that day ({load()}):")
        drop_s, dropped_rows, names = retention_seconds(part_url, now, migrate=True)
        print(f"  partition drop: {drop_s:8.3f} s  {dropped_rows:,} rows  {names}")
        delete_s, deleted_rows, _ = retention_seconds(plain_url, now, migrate=False)
        print(f"  batched DELETE: {delete_s:8.3f} s  {deleted_rows:,} rows")
        if dropped_rows != day_rows or deleted_rows != day_rows:
            raise SystemExit("retention did not remove exactly the day's rows")
        out["retention"] = {"rows": day_rows, "drop_s": drop_s, "delete_s": delete_s,
                            "ratio": delete_s / drop_s}

    ins = out["insert"]
    print(f"\ninsert rate: partitioned {ins['rows_per_s']['partitioned']:,.0f} rows/s, plain "
          f"{ins['rows_per_s']['plain']:,.0f} rows/s: ratio {ins['ratio']:.2f} "
          f"(target >= {args.target})")
    ret = out["retention"]
    print(f"retention of a day of {ret['rows']:,} rows: drop {ret['drop_s']:.3f} s, batched "
          f"DELETE {ret['delete_s']:.1f} s: DELETE / drop = {ret['ratio']:,.0f}x")
    print(f"end: {load()}")
    print(json.dumps(out, default=float))
    return 0 if ins["ratio"] >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
