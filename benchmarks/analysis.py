"""Analysis benchmark: sliced metrics and bootstrap intervals, against Fairlearn's MetricFrame.

    python benchmarks/analysis.py                 # targets + Fairlearn (about a minute)
    python benchmarks/analysis.py --no-fairlearn  # targets only (seconds)
    python benchmarks/analysis.py --fairlearn-boot 200   # Fairlearn's bootstrap in full

Targets (issue 7), on the same seeded data for both libraries:

- slices: 1,000,000 rows x 50 groups x 3 metrics (accuracy, precision, recall) in <= 100 ms;
- bootstrap: 200 resamples on 100,000 rows (the same 50 groups and 3 metrics, a 95%
  interval for every group and metric) in <= 1 s.

rampup's times are the median of ``--repeats`` runs after a warm-up (the machine may be
shared; the minimum is shown too). Fairlearn runs once per task; its bootstrap runs
``--fairlearn-boot`` resamples and is scaled linearly to 200 (marked "scaled") unless
that is 200. The values of both are checked against each other. Informational rows
(no target): per-group ROC AUC with 200 row resamples, and compare's paired bootstrap.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rampup.analysis.compare import compare
from rampup.analysis.slices import slice_metrics

HERE = Path(__file__).resolve().parent
METRICS = ("accuracy", "precision", "recall")
SLICE_TARGET_S = 0.100
BOOT_TARGET_S = 1.0
console = Console(width=None if sys.stdout.isatty() else 120)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the slice task")
    p.add_argument("--boot-rows", type=int, default=100_000, help="rows of the bootstrap task")
    p.add_argument("--groups", type=int, default=50)
    p.add_argument("--resamples", type=int, default=200)
    p.add_argument("--repeats", type=int, default=7, help="timed runs of each rampup task")
    p.add_argument("--fairlearn-boot", type=int, default=5,
                   help="resamples for Fairlearn's bootstrap (scaled to --resamples)")
    p.add_argument("--no-fairlearn", action="store_true", help="skip Fairlearn")
    p.add_argument("--save", type=Path, default=None,
                   help="also write the numbers as JSON here (e.g. benchmarks/results/)")
    return p.parse_args(argv)


def data(n: int, groups: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Binary labels, predictions right 80% of the time (worse in some groups), scores."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    names = np.array([f"g{i:02d}" for i in range(groups)], dtype=object)
    y = rng.integers(0, 2, n)
    right = rng.random(n) < 0.8 - 0.2 * (g % 7 == 0)
    p = np.where(right, y, 1 - y)
    score = np.clip(0.5 + (y - 0.5) * 0.5 + rng.normal(0, 0.3, n), 0, 1)
    b = np.where(rng.random(n) < 0.9, p, y)  # a challenger that fixes some errors
    return {"group": names[g], "y": y, "p": p, "score": score, "b": b}


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    out = fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fairlearn_frame(d: dict[str, np.ndarray], n_boot: int | None) -> Any:
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    extra: dict[str, Any] = {}
    if n_boot:
        extra = {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975], "random_state": 0}
    return MetricFrame(metrics={"accuracy": accuracy_score, "precision": precision_score,
                                "recall": recall_score},
                       y_true=d["y"], y_pred=d["p"], sensitive_features=d["group"], **extra)


def max_difference(table: Any, frame: Any) -> float:
    """Largest |rampup - Fairlearn| over every group and metric."""
    by_group = frame.by_group
    worst = 0.0
    for r in table.rows:
        for m in METRICS:
            worst = max(worst, abs(r.values[m] - float(by_group.loc[r.slice, m])))
    return worst


def k(n: int) -> str:
    """1000000 -> '1M', 100000 -> '100k'."""
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k" if n >= 1000 else str(n)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    big = data(args.rows, args.groups)
    small = {k: v[:args.boot_rows] for k, v in data(args.boot_rows, args.groups, 1).items()}
    rows: list[dict[str, Any]] = []

    console.print(f"[bold]slices[/]: {args.rows:,} rows x {args.groups} groups x "
                  f"{len(METRICS)} metrics, {args.repeats} runs")
    times, table = timed(lambda: slice_metrics(big["y"], big["p"], big["group"], METRICS),
                         args.repeats)
    rows.append({"task": f"slices: {k(args.rows)} rows, {args.groups} groups, 3 metrics",
                 "median_s": median(times), "min_s": min(times), "target_s": SLICE_TARGET_S})

    console.print(f"[bold]bootstrap[/]: {args.resamples} resamples on {args.boot_rows:,} rows")
    btimes, btable = timed(lambda: slice_metrics(
        small["y"], small["p"], small["group"], METRICS, bootstrap=args.resamples, seed=0),
        args.repeats)
    rows.append({"task": f"bootstrap: {args.resamples}x, {k(args.boot_rows)} rows, "
                         f"{args.groups} groups, 3 metrics",
                 "median_s": median(btimes), "min_s": min(btimes), "target_s": BOOT_TARGET_S})

    console.print("[bold]informational[/]: per-group ROC AUC and paired comparison")
    atimes, _ = timed(lambda: slice_metrics(
        small["y"], small["p"], small["group"], ("roc_auc",), scores=small["score"],
        bootstrap=args.resamples, seed=0), max(1, args.repeats // 3))
    rows.append({"task": f"ROC AUC per group: {args.resamples}x, {k(args.boot_rows)} rows",
                 "median_s": median(atimes),
                 "min_s": min(atimes), "target_s": None})
    ctimes, _ = timed(lambda: compare(small["y"], small["p"], small["b"], groups=small["group"],
                                      metrics=METRICS, bootstrap=args.resamples, seed=0),
                      max(1, args.repeats // 3))
    rows.append({"task": f"compare (paired): {args.resamples}x, {k(args.boot_rows)} rows, "
                         "per group", "median_s": median(ctimes),
                 "min_s": min(ctimes), "target_s": None})

    checks: dict[str, float] = {}
    if not args.no_fairlearn:
        try:
            import fairlearn
        except ImportError:
            console.print("[yellow]Fairlearn is not installed: pip install 'rampup[bench]' "
                          "(or --no-fairlearn)[/]")
        else:
            console.print(f"[bold]Fairlearn {fairlearn.__version__}[/] MetricFrame, same data")
            ft, frame = once(lambda: fairlearn_frame(big, None))
            rows[0]["fairlearn_s"] = ft
            checks["slices: max |rampup - fairlearn|"] = max_difference(table, frame)
            n_boot = max(1, min(args.fairlearn_boot, args.resamples))
            plain, _ = once(lambda: fairlearn_frame(small, None))
            bt, bframe = once(lambda: fairlearn_frame(small, n_boot))
            per = max(bt - plain, 0.0) / n_boot
            rows[1]["fairlearn_s"] = plain + per * args.resamples
            rows[1]["fairlearn_note"] = ("" if n_boot == args.resamples
                                         else f"scaled from {n_boot}")
            checks["bootstrap: point values max |rampup - fairlearn|"] = max_difference(
                btable, bframe)

    report(rows, checks, args)
    if args.save is not None:
        save(args.save, rows, checks, args)
    return 0 if all(r["target_s"] is None or r["median_s"] <= r["target_s"] for r in rows) else 1


def report(rows: list[dict[str, Any]], checks: dict[str, float], args: argparse.Namespace) -> None:
    t = Table(title=f"analysis benchmark ({platform.processor() or platform.machine()}, "
                    f"{os.cpu_count()} CPUs, Python {platform.python_version()})",
              title_justify="left", header_style="bold")
    for col in ("task", "rampup median", "min", "target", "result", "Fairlearn", "ratio"):
        t.add_column(col, justify="left" if col == "task" else "right",
                     no_wrap=col != "task")
    for r in rows:
        target = r["target_s"]
        passed = None if target is None else r["median_s"] <= target
        result = "-" if passed is None else ("[green]PASS[/]" if passed else "[red]FAIL[/]")
        fl = r.get("fairlearn_s")
        note = f" ({r['fairlearn_note']})" if r.get("fairlearn_note") else ""
        t.add_row(r["task"], fmt_s(r["median_s"]), fmt_s(r["min_s"]),
                  f"<= {fmt_s(target)}" if target else "-", result,
                  fmt_s(fl) + note if fl is not None else "-",
                  f"{fl / r['median_s']:,.0f}x" if fl is not None else "-")
    console.print("ratio: Fairlearn's time / rampup's median on the same data")
    console.print(t)
    for name, value in checks.items():
        console.print(f"{name}: {value:.2e}", highlight=False)


def save(path: Path, rows: list[dict[str, Any]], checks: dict[str, float],
         args: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path / f"analysis-{stamp}.json" if path.is_dir() else path
    target.write_text(json.dumps({"rows": rows, "checks": checks, "args": {
        k: str(v) for k, v in vars(args).items()}, "python": platform.python_version(),
        "cpus": os.cpu_count()}, indent=2))
    console.print(f"saved {target}")


if __name__ == "__main__":
    sys.exit(main())
