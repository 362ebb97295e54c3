"""Drift benchmark: calibration, speed and concept-drift detection (issue 6).

    python benchmarks/drift.py             # the full run (a few minutes)
    python benchmarks/drift.py --quick     # a smoke run: few repetitions, no verdict

1. **Calibration**: the share of drift verdicts for one normal feature, on windows with
   no shift and with shifts of 0.1, 0.25 and 0.5 standard deviations, at window sizes 100,
   300, 1 000, 5 000 and 20 000 (``--reps`` repetitions each, a fresh 50 000-row reference
   every repetition), in stored mode (the reference profile against a window counted on
   its bins, as the monitor keeps it) and in exact mode (raw rows). Targets: at most 5 %
   false alarms at every size; at least 95 % detection of 0.5 sd at n >= 300 and of 0.25
   sd at n >= 1 000. For context, the share of windows a fixed "PSI >= 0.1" rule (10
   reference-decile bins) flags.
2. **Speed**: the full per-feature report on 100 000 reference + 100 000 current rows x
   20 numeric columns (target <= 1 s) and its peak memory (tracemalloc, target <= 2x the
   data); from stored profiles, 20 features (target <= 10 ms, whatever the rows behind
   them): for a window size seen before (calibration cached) and a new size (its null is
   simulated); a first call (the reference's bin geometry too, once per reference) is
   shown without a verdict.
3. **Concept drift**: seeded Bernoulli error streams, 0.10 -> 0.20 and 0.10 -> 0.30 at
   step 10 000 of 20 000: false alarms before the change per 10 000 steps and the
   median detection delay, per detector (ADWIN is the default). Targets for the default:
   no false alarm, median delay <= 300 steps for +10 points.

A false-alarm rate is judged with its sampling noise: PASS when the observed rate is at
most 5 %, or when it is not significantly above 5 % (one-sided exact binomial test at
5 %); the table shows the 95 % interval. Evidently and NannyML are compared only when
installed (they are not dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rampup.drift.calibrate import NullCache
from rampup.drift.detectors import AlarmStream, make_detector
from rampup.drift.features import numeric_profiles, numeric_samples
from rampup.drift.frames import compare_frames
from rampup.drift.profiles import compare_profiles, window_profile
from rampup.drift.report import DriftConfig, decide
from rampup.registry.profile import compute_profile, infer_schema

HERE = Path(__file__).resolve().parent
SIZES = (100, 300, 1000, 5000, 20_000)
SHIFTS = (0.0, 0.1, 0.25, 0.5)
N_REF = 50_000
FA_TARGET = 0.05
DETECT_TARGET = 0.95
RAW_TARGET_S = 1.0
STORED_TARGET_S = 0.010
MEMORY_TARGET = 2.0
DELAY_TARGET = 300
PARTS = ("calibration", "dataset", "speed", "concept", "label_free")
console = Console(width=None if sys.stdout.isatty() else 140)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=400, help="repetitions per calibration cell")
    p.add_argument("--dataset-reps", type=int, default=400,
                   help="repetitions per size for the dataset verdict")
    p.add_argument("--dataset-modes", default="raw,stored",
                   help="dataset verdict modes: raw,stored (stored alone is ~20x cheaper)")
    p.add_argument("--seeds", type=int, default=5,
                   help="seeds for the label-free estimate (20 chunks each)")
    p.add_argument("--multivariate-model", default="qda",
                   help="raw mode's multivariate test in the dataset part: qda (the default "
                        "of raw mode), hgb or logistic")
    p.add_argument("--dataset-ref", type=int, default=5000,
                   help="reference rows for the dataset verdict")
    p.add_argument("--streams", type=int, default=100, help="error streams per scenario")
    p.add_argument("--rows", type=int, default=100_000, help="rows per side in the speed test")
    p.add_argument("--columns", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each speed task")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"which parts to run, comma-separated (default: all: {', '.join(PARTS)})")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run (few repetitions, smaller speed data): not a verdict")
    p.add_argument("--save", type=Path, default=None,
                   help="also write the numbers as JSON here (e.g. benchmarks/results/)")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.streams, args.rows, args.repeats = 20, 4, 20_000, 2
        args.dataset_reps, args.seeds = 3, 1
    return args


# -- 1. calibration ---------------------------------------------------------------------

def monitor_window(values: np.ndarray, ref_entry: dict[str, Any]) -> dict[str, Any]:
    """A window as the monitor keeps it: counts on the reference bins and moments."""
    inner = np.array([float(e) for e in ref_entry["bins"][1:-1]])
    counts = np.bincount(np.searchsorted(inner, values, side="right"),
                         minlength=len(inner) + 1)
    return {"kind": "numeric", "count": len(values), "missing_fraction": 0.0,
            "mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max()), "quantiles": None,
            "bins": ref_entry["bins"], "counts": counts.tolist()}


def fixed_psi(ref_sorted: np.ndarray, cur: np.ndarray) -> float:
    """The common rule: PSI on 10 reference-decile bins, empty bins floored at 1e-4."""
    edges = np.quantile(ref_sorted, np.linspace(0.1, 0.9, 9))
    p = np.bincount(np.searchsorted(edges, ref_sorted), minlength=10) / len(ref_sorted)
    q = np.bincount(np.searchsorted(edges, cur), minlength=10) / len(cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(((q - p) * np.log(q / p)).sum())


def calibration(reps: int, seed: int = 0) -> dict[str, Any]:
    config = DriftConfig()
    cache = NullCache(config.reps, config.seed)
    rng = np.random.default_rng(seed)
    hits = {mode: np.zeros((len(SHIFTS), len(SIZES)), dtype=np.int64)
            for mode in ("stored", "exact", "fixed_psi")}
    t0 = time.perf_counter()
    for _ in range(reps):
        ref = np.sort(rng.normal(size=N_REF))
        entry = compute_profile(pd.DataFrame({"x": ref}),
                                infer_schema(pd.DataFrame({"x": ref[:10]})))["features"]["x"]
        for i, shift in enumerate(SHIFTS):
            for j, n in enumerate(SIZES):
                cur = np.sort(rng.normal(shift, 1.0, n))
                s = numeric_profiles("x", entry, monitor_window(cur, entry), config, cache)
                e = numeric_samples("x", ref, cur, config, cache)
                stored, exact = decide([s, e], config.alpha, "none")
                hits["stored"][i, j] += stored.drifted
                hits["exact"][i, j] += exact.drifted
                hits["fixed_psi"][i, j] += fixed_psi(ref, cur) >= 0.1
    return {"reps": reps, "seconds": time.perf_counter() - t0,
            "rates": {m: (h / reps).tolist() for m, h in hits.items()},
            "counts": {m: h.tolist() for m, h in hits.items()}}


def fa_verdict(k: int, reps: int) -> tuple[bool, str]:
    rate = k / reps
    if rate <= FA_TARGET:
        return True, "PASS"
    p = float(sps.binomtest(k, reps, FA_TARGET, alternative="greater").pvalue)
    return (True, "PASS (noise)") if p > 0.05 else (False, "FAIL")


def interval(k: int, reps: int) -> str:
    ci = sps.binomtest(k, reps).proportion_ci(0.95, method="exact")
    return f"{k / reps:.1%} [{ci.low:.1%}, {ci.high:.1%}]"


def calibration_table(cal: dict[str, Any]) -> tuple[Table, list[bool]]:
    reps = cal["reps"]
    t = Table(title=f"1. calibration: share of drift verdicts, one N(0,1) feature, "
                    f"{reps} repetitions per cell (alpha 0.05, practical minimum 0.1 sd)",
              title_justify="left", header_style="bold")
    t.add_column("mode")
    t.add_column("shift")
    for n in SIZES:
        t.add_column(f"n={n:,}", justify="right")
    t.add_column("target")
    ok: list[bool] = []
    for mode in ("stored", "exact", "fixed_psi"):
        for i, shift in enumerate(SHIFTS):
            cells = []
            for j, n in enumerate(SIZES):
                k = cal["counts"][mode][i][j]
                if mode == "fixed_psi":
                    cells.append(f"{k / reps:.1%}")
                    continue
                if shift == 0.0:
                    passed, word = fa_verdict(k, reps)
                    cells.append(f"{interval(k, reps)} {word}")
                    ok.append(passed)
                elif (shift == 0.5 and n >= 300) or (shift == 0.25 and n >= 1000):
                    passed = k / reps >= DETECT_TARGET
                    cells.append(f"{k / reps:.1%} {'PASS' if passed else 'FAIL'}")
                    ok.append(passed)
                else:
                    cells.append(f"{k / reps:.1%}")
            target = ("-" if mode == "fixed_psi" else "<= 5%" if shift == 0 else
                      ">= 95% (n >= 300)" if shift == 0.5 else
                      ">= 95% (n >= 1,000)" if shift == 0.25 else "-")
            label = {"stored": "stored profiles", "exact": "exact (raw rows)",
                     "fixed_psi": "PSI >= 0.1 rule"}[mode]
            t.add_row(label if i == 0 else "", f"{shift:g} sd", *cells, target)
    return t, ok


# -- 1b. the dataset verdict ----------------------------------------------------------------

def dataset_table_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A mixed table: four numeric features (two correlated), a category with a rare
    value (0.2 %: often missing from one side by chance), a binary one."""
    z = rng.normal(size=(n, 4))
    return pd.DataFrame({
        "x0": z[:, 0], "x1": 0.7 * z[:, 0] + 0.71 * z[:, 1], "x2": rng.exponential(1.0, n),
        "x3": rng.integers(0, 20, n).astype(float),
        "c": rng.choice(["a", "b", "c", "d", "rare"], n, p=[0.4, 0.3, 0.2, 0.098, 0.002]),
        "flag": rng.random(n) < 0.3})


def dataset(reps: int, n_ref: int, seed: int = 7, modes: tuple[str, ...] = ("raw", "stored"),
            model: str = "qda") -> dict[str, Any]:
    """No-drift windows: the share whose dataset verdict says drift, in raw mode (feature
    tests + the multivariate test ``model``, one error budget) and stored mode (profiles: feature
    tests only); "before" is the old rule (features OR the classifier, each at alpha).
    ``modes``: stored alone is ~20x cheaper, for many repetitions."""
    from rampup.drift.multivariate import domain_classifier
    from rampup.drift.report import build_report

    config = DriftConfig()
    cache = NullCache(config.reps, config.seed)
    rng = np.random.default_rng(seed)
    keys = ("raw", "stored", "raw_before")
    hits = {k: np.zeros(len(SIZES), dtype=np.int64) for k in keys}
    t0 = time.perf_counter()
    from rich.progress import track

    for rep in track(range(reps), description="dataset verdict", console=console,
                     transient=True):
        ref = dataset_table_frame(n_ref, rng)
        schema = infer_schema(ref)
        prof = compute_profile(ref, schema)
        for j, n in enumerate(SIZES):
            cur = dataset_table_frame(n, rng)
            if "raw" in modes:
                mv = domain_classifier(ref, cur, model=model, alpha=config.alpha, seed=rep)
                raw = compare_frames(ref, cur, config, schema=schema, cache=cache,
                                     multivariate=mv, workers=1)
                hits["raw"][j] += raw.dataset_drift
                features_only = build_report(raw.results, config)
                hits["raw_before"][j] += features_only.dataset_drift or (
                    mv.p_value <= config.alpha and mv.auc >= mv.min_auc)
            if "stored" not in modes:
                continue
            stored = compare_profiles(prof, window_profile(cur, prof, schema), config,
                                      cache=cache, schema=schema)
            hits["stored"][j] += stored.dataset_drift
    return {"reps": reps, "n_ref": n_ref, "seconds": time.perf_counter() - t0,
            "modes": list(modes), "model": model,
            "counts": {k: v.tolist() for k, v in hits.items()}}


def wilson_text(k: int, reps: int) -> str:
    from rampup.drift.stats import wilson

    lo, hi = wilson(k, reps)
    return f"{k / reps:.1%} [{lo:.1%}, {hi:.1%}]"


def dataset_table_view(ds: dict[str, Any]) -> tuple[Table, list[bool]]:
    reps = ds["reps"]
    t = Table(title=f"1b. dataset verdict on no-drift windows (6 mixed features; "
                    f"{ds['n_ref']:,}-row reference; {reps} repetitions; Wilson 95 % "
                    "interval): one error budget across feature tests and the domain "
                    "classifier", title_justify="left", header_style="bold")
    t.add_column("mode")
    for n in SIZES:
        t.add_column(f"n={n:,}", justify="right")
    t.add_column("target")
    ok: list[bool] = []
    labels = {"raw": "raw rows (features + classifier, BH together)",
              "stored": "stored profiles (features)",
              "raw_before": "old rule: features OR classifier (context)"}
    modes = ds.get("modes", ["raw", "stored"])
    for key, label in labels.items():
        if key.split("_")[0] not in modes:
            continue
        cells = []
        for k in ds["counts"][key]:
            if key == "raw_before":
                cells.append(wilson_text(k, reps))
                continue
            passed, word = fa_verdict(k, reps)
            ok.append(passed)
            cells.append(f"{wilson_text(k, reps)} {word}")
        t.add_row(label, *cells, "-" if key == "raw_before" else "<= 5%")
    return t, ok


# -- 2. speed -----------------------------------------------------------------------------

def speed(rows: int, columns: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    names = [f"f{i:02d}" for i in range(columns)]
    ref = pd.DataFrame(rng.normal(size=(rows, columns)), columns=names)
    cur = pd.DataFrame(rng.normal(0.02, 1.0, size=(rows, columns)), columns=names)
    data_bytes = int(ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum())
    compare_frames(ref.iloc[:1000], cur.iloc[:1000])  # warm-up: imports, first calls
    raw_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        compare_frames(ref, cur)
        raw_times.append(time.perf_counter() - t0)
    tracemalloc.start()
    compare_frames(ref, cur)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    schema = infer_schema(ref)
    t0 = time.perf_counter()
    reference = compute_profile(ref, schema)
    profile_s = time.perf_counter() - t0
    stored: dict[str, Any] = {}
    other = window_profile(pd.DataFrame(rng.normal(size=(777, columns)), columns=names),
                           reference, schema)
    for label, n in (("1k-row window", 1000), (f"{rows // 1000}k-row window", rows),
                     ("1M-row window", 1_000_000)):
        window = window_profile(
            pd.DataFrame(rng.normal(0.02, 1.0, size=(n, columns)), columns=names),
            reference, schema)
        runs: dict[str, list[float]] = {k: [] for k in ("first", "first_cpu", "cold",
                                                        "cold_cpu", "warm", "warm_cpu")}

        for _ in range(max(repeats, 5)):
            _timed(runs, "first", reference, window, NullCache())  # nothing cached
            cache = NullCache()
            compare_profiles(reference, other, cache=cache)  # knows the reference ...
            _timed(runs, "cold", reference, window, cache)  # ... not this window size
        for _ in range(max(repeats, 5) * 4):
            _timed(runs, "warm", reference, window, cache)
        stored[label] = {f"{k}_s": median(v) for k, v in runs.items()}
    return {"rows": rows, "columns": columns, "raw_s": median(raw_times),
            "raw_min_s": min(raw_times), "peak_bytes": peak, "data_bytes": data_bytes,
            "reference_profile_s": profile_s, "stored": stored}


def _timed(runs: dict[str, list[float]], kind: str, reference: dict[str, Any],
           window: dict[str, Any], cache: NullCache) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    compare_profiles(reference, window, cache=cache)
    runs[kind].append(time.perf_counter() - t0)
    runs[f"{kind}_cpu"].append(time.process_time() - c0)


def speed_table(sp: dict[str, Any]) -> tuple[Table, list[bool]]:
    t = Table(title="2. speed (wall-clock medians, judged; CPU time of this process for "
                    "context on a shared machine)", title_justify="left", header_style="bold")
    for col in ("task", "time", "CPU", "target", "result"):
        t.add_column(col, justify="left" if col == "task" else "right")
    ok = [sp["raw_s"] <= RAW_TARGET_S]
    t.add_row(f"exact: {sp['rows']:,} + {sp['rows']:,} rows x {sp['columns']} numeric, "
              "full per-feature report (median)",
              f"{sp['raw_s'] * 1000:.0f} ms", "-", "<= 1 s", "PASS" if ok[0] else "FAIL")
    ratio = sp["peak_bytes"] / sp["data_bytes"]
    ok.append(ratio <= MEMORY_TARGET)
    t.add_row(f"exact: peak memory ({sp['peak_bytes'] / 1e6:.1f} MB traced, data "
              f"{sp['data_bytes'] / 1e6:.1f} MB)", f"{ratio:.2f}x data", "-", "<= 2x",
              "PASS" if ok[-1] else "FAIL")
    what = {"warm": "window size seen before", "cold": "new window size: null simulated",
            "first": "first call: bins and null computed"}
    for label, s in sp["stored"].items():
        for kind in ("warm", "cold", "first"):
            # a first call pays once per reference (its bin geometry): shown, not judged
            judged = kind != "first"
            passed = s[f"{kind}_s"] <= STORED_TARGET_S
            if judged:
                ok.append(passed)
            t.add_row(f"stored profiles: {sp['columns']} features, {label} ({what[kind]})",
                      f"{s[f'{kind}_s'] * 1000:.2f} ms", f"{s[f'{kind}_cpu_s'] * 1000:.2f} ms",
                      "<= 10 ms" if judged else "-",
                      ("PASS" if passed else "FAIL") if judged else "-")
    t.add_row("(reference profile at registration, once: "
              f"{sp['rows']:,} rows x {sp['columns']})",
              f"{sp['reference_profile_s'] * 1000:.0f} ms", "-", "-", "-")
    return t, ok


# -- 3. concept drift -----------------------------------------------------------------------

def concept(streams: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("adwin", "page_hinkley", "ddm"):
        for after in (0.20, 0.30):
            false_alarms, delays, t0 = 0, [], time.perf_counter()
            for s in range(streams):
                rng = np.random.default_rng(1000 + s)
                errors = (rng.random(20_000) < np.r_[np.full(10_000, 0.10),
                                                     np.full(10_000, after)]).astype(float)
                found = AlarmStream(make_detector(name)).run(errors.tolist())
                false_alarms += sum(a.index < 10_000 for a in found)
                late = [a.index - 10_000 for a in found if a.index >= 10_000]
                delays.append(late[0] if late else None)
            detected = [d for d in delays if d is not None]
            out[f"{name} {after:.2f}"] = {
                "detector": name, "after": after, "streams": streams,
                "false_alarms_per_10k": false_alarms / streams,
                "false_alarms": false_alarms, "detected": len(detected) / streams,
                "median_delay": median(detected) if detected else None,
                "seconds": time.perf_counter() - t0}
    return out


def concept_table(con: dict[str, Any]) -> tuple[Table, list[bool]]:
    streams = next(iter(con.values()))["streams"]
    t = Table(title=f"3. concept drift: Bernoulli error streams, change at step 10,000 of "
                    f"20,000, {streams} streams each", title_justify="left",
              header_style="bold")
    for col in ("detector", "error rate", "false alarms / 10k steps", "detected",
                "median delay", "target", "result"):
        t.add_column(col, justify="left" if col in ("detector", "target") else "right")
    ok: list[bool] = []
    for r in con.values():
        default = r["detector"] == "adwin"
        judged = default and r["after"] == 0.20
        target = "0 false alarms, delay <= 300" if judged else \
            "0 false alarms" if default else "-"
        result = "-"
        if default:
            passed = r["false_alarms"] == 0 and (
                not judged or (r["median_delay"] is not None
                               and r["median_delay"] <= DELAY_TARGET))
            ok.append(passed)
            result = "PASS" if passed else "FAIL"
        delay = "-" if r["median_delay"] is None else f"{r['median_delay']:.0f} steps"
        t.add_row(r["detector"] + (" (default)" if default else ""),
                  f"0.10 -> {r['after']:.2f}", f"{r['false_alarms_per_10k']:.2f}",
                  f"{r['detected']:.0%}", delay, target, result)
    return t, ok


FA_LENGTHS = (1000, 10_000, 20_000)
FA_RATES = (0.1, 0.3)
#: the share of no-change streams a detector may alarm on within 10,000 steps (3b).
STREAM_FA_TARGET = 0.05


def stream_false_alarms(streams: int) -> dict[str, Any]:
    """No-change Bernoulli error streams: the share with at least one alarm within each
    length (the first alarm's index, one 20,000-step stream per seed)."""
    out: dict[str, Any] = {}
    for name in ("adwin", "page_hinkley", "ddm"):
        for rate in FA_RATES:
            first: list[int | None] = []
            for s in range(streams):
                rng = np.random.default_rng(5000 + s)
                d = make_detector(name)
                hit = None
                for i, x in enumerate((rng.random(FA_LENGTHS[-1]) < rate).tolist()):
                    if d.update(float(x)):
                        hit = i
                        break
                first.append(hit)
            out[f"{name} {rate}"] = {
                "detector": name, "rate": rate, "streams": streams,
                "alarmed": {str(n): sum(1 for f in first if f is not None and f < n)
                            for n in FA_LENGTHS}}
    return out


def stream_fa_table(fa: dict[str, Any]) -> tuple[Table, list[bool]]:
    streams = next(iter(fa.values()))["streams"]
    t = Table(title=f"3b. detector false alarms: share of no-change Bernoulli error streams "
                    f"with an alarm within n steps ({streams} streams; Wilson 95 % interval; "
                    "make_detector defaults)", title_justify="left", header_style="bold")
    t.add_column("detector")
    t.add_column("error rate", justify="right")
    for n in FA_LENGTHS:
        t.add_column(f"n={n:,}", justify="right")
    t.add_column("target")
    ok: list[bool] = []
    for r in fa.values():
        cells = []
        for n in FA_LENGTHS:
            cells.append(wilson_text(r["alarmed"][str(n)], streams))
        k10 = r["alarmed"][str(FA_LENGTHS[1])]
        passed = k10 / streams <= STREAM_FA_TARGET or float(sps.binomtest(
            k10, streams, STREAM_FA_TARGET, alternative="greater").pvalue) > 0.05
        ok.append(passed)
        t.add_row(r["detector"], f"{r['rate']:g}", *cells,
                  f"<= 5% at n={FA_LENGTHS[1]:,} " + ("PASS" if passed else "FAIL"))
    return t, ok


# -- 4. label-free performance estimate ----------------------------------------------------

LF_THRESHOLD = 0.645  # the car-loan model's decision threshold: not 0.5
LF_CHUNKS = 20
LF_CHUNK_ROWS = 5000
LF_MAE_RATIO = 1.10
LF_COVERAGE = 0.90


def _lf_rows(n: int, shift: float, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """Covariate shift: the inputs move (``shift``), P(y | x) stays (and x2, which the
    label ignores, widens)."""
    x = np.column_stack([rng.normal(shift, 1.0, n), rng.normal(-0.5 * shift, 1.0, n),
                         rng.normal(0.0, 1.0 + 0.5 * shift, n)])
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return x, y


def cbpe_accuracy_f1(ref_prob: np.ndarray, ref_y: np.ndarray, prob: np.ndarray,
                     threshold: float) -> dict[str, float]:
    """CBPE (NannyML's confidence-based performance estimation, from its definition):
    isotonic calibration of P(y = 1 | score) on the reference, then the expected
    confusion matrix of the decisions; ROC AUC from the expected TPR/FPR curve over the
    score thresholds (trapezoids). Written here independently of rampup's estimator."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(ref_prob, ref_y)
    p = iso.predict(prob)
    d = prob >= threshold
    tp, fp = p[d].sum(), (1 - p[d]).sum()
    fn, tn = p[~d].sum(), (1 - p[~d]).sum()
    order = np.argsort(-prob, kind="stable")
    tpr = np.concatenate([[0.0], np.cumsum(p[order]) / p.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(1 - p[order]) / (1 - p).sum()])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return {"accuracy": float((tp + tn) / len(p)), "f1": float(2 * tp / (2 * tp + fp + fn)),
            "roc_auc": auc}


def label_free(seeds: int) -> dict[str, Any]:
    """Estimate vs realised per chunk; the model is a logistic regression made
    over-confident (its logit doubled), so its raw probabilities are not calibrated."""
    from sklearn.linear_model import LogisticRegression

    from rampup.drift.estimate import METRICS, Estimator, realised_metrics

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        xt, yt = _lf_rows(5000, 0.0, rng)
        lr = LogisticRegression(max_iter=1000).fit(xt, yt)

        def model(x: np.ndarray, lr: Any = lr) -> np.ndarray:
            z = lr.decision_function(x) * 2.0
            return np.asarray(1.0 / (1.0 + np.exp(-z)))

        xr, yr = _lf_rows(10_000, 0.0, rng)
        pr = model(xr)
        est = Estimator.fit(pr, yr, threshold=LF_THRESHOLD, seed=seed)
        for c in range(LF_CHUNKS):
            shift = 1.5 * c / (LF_CHUNKS - 1)
            xc, yc = _lf_rows(LF_CHUNK_ROWS, shift, rng)
            pc = model(xc)
            real = realised_metrics(yc, pc, LF_THRESHOLD)
            ours = est.estimate(pc, seed=c)
            cbpe = cbpe_accuracy_f1(pr, yr, pc, LF_THRESHOLD)
            raw_conf = float(np.maximum(pc, 1 - pc).mean())  # the old estimate
            row: dict[str, Any] = {"seed": seed, "chunk": c, "shift": shift,
                                   "raw_confidence": raw_conf}
            for m in METRICS:
                e = ours[m]
                row[m] = {"realised": real[m], "ours": e.value, "lo": e.lo, "hi": e.hi,
                          "cbpe": cbpe[m]}
            rows.append(row)
    return {"seeds": seeds, "rows": rows, "seconds": time.perf_counter() - t0}


def label_free_table(lf: dict[str, Any]) -> tuple[Table, list[bool]]:
    rows = lf["rows"]
    t = Table(title=f"4. label-free estimate vs realised: {lf['seeds']} seeds x {LF_CHUNKS} "
                    f"chunks of {LF_CHUNK_ROWS:,} rows, covariate shift 0 -> 1.5 sd, decision "
                    f"threshold {LF_THRESHOLD}; CBPE computed in the same run",
              title_justify="left", header_style="bold")
    for col in ("metric", "MAE (rampup)", "MAE (CBPE)", "ratio", "coverage (95 % band)",
                "target", "result"):
        t.add_column(col, justify="left" if col in ("metric", "target") else "right")
    ok: list[bool] = []
    for m in ("accuracy", "f1", "roc_auc"):
        real = np.array([r[m]["realised"] for r in rows])
        ours = np.array([r[m]["ours"] for r in rows])
        cbpe = np.array([r[m]["cbpe"] for r in rows])
        lo, hi = np.array([r[m]["lo"] for r in rows]), np.array([r[m]["hi"] for r in rows])
        mae, mae_c = float(np.abs(ours - real).mean()), float(np.abs(cbpe - real).mean())
        cover = float(((lo <= real) & (real <= hi)).mean())
        passed = mae <= LF_MAE_RATIO * mae_c and cover >= LF_COVERAGE
        ok.append(passed)
        t.add_row(m, f"{mae:.4f}", f"{mae_c:.4f}", f"{mae / mae_c:.2f}x", f"{cover:.0%}",
                  f"MAE <= {LF_MAE_RATIO:.2f}x CBPE, coverage >= {LF_COVERAGE:.0%}",
                  "PASS" if passed else "FAIL")
    real = np.array([r["accuracy"]["realised"] for r in rows])
    raw = np.array([r["raw_confidence"] for r in rows])
    t.add_row("accuracy, raw max-class probability (before; context)",
              f"{float(np.abs(raw - real).mean()):.4f}", "-", "-", "-", "-", "-")
    return t, ok


def others() -> list[str]:
    found = []
    for lib in ("evidently", "nannyml"):
        try:
            __import__(lib)
        except ImportError:
            continue
        found.append(lib)
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}: use {', '.join(PARTS)}")
    cal = sp = con = ds = lf = None
    if "calibration" in parts:
        console.print(f"[bold]calibration[/]: {len(SHIFTS)} shifts x {len(SIZES)} sizes x "
                      f"{args.reps} repetitions")
        cal = calibration(args.reps)
    if "dataset" in parts:
        console.print(f"[bold]dataset verdict[/]: {len(SIZES)} sizes x {args.dataset_reps} "
                      f"repetitions (multivariate test {args.multivariate_model} each)")
        ds = dataset(args.dataset_reps, args.dataset_ref,
                     modes=tuple(m.strip() for m in args.dataset_modes.split(",")),
                     model=args.multivariate_model)
    if "speed" in parts:
        console.print(f"[bold]speed[/]: {args.rows:,} + {args.rows:,} rows x {args.columns}")
        sp = speed(args.rows, args.columns, args.repeats)
    fa = None
    if "concept" in parts:
        console.print(f"[bold]concept drift[/]: {args.streams} streams per scenario")
        con = concept(args.streams)
        console.print(f"[bold]detector false alarms[/]: {args.streams} no-change streams "
                      f"of {FA_LENGTHS[-1]:,} steps per detector and error rate")
        fa = stream_false_alarms(args.streams)
    if "label_free" in parts:
        console.print(f"[bold]label-free estimate[/]: {args.seeds} seeds x {LF_CHUNKS} chunks")
        lf = label_free(args.seeds)
    console.print(f"\ndrift benchmark ({platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
                  f"{os.getloadavg()[0]:.1f})"
                  + (" [yellow]--quick: a smoke run, not a verdict[/]" if args.quick else ""))
    results: list[bool] = []
    tables = [calibration_table(cal) if cal else None,
              dataset_table_view(ds) if ds else None, speed_table(sp) if sp else None,
              concept_table(con) if con else None, stream_fa_table(fa) if fa else None,
              label_free_table(lf) if lf else None]
    for made in tables:
        if made is not None:
            console.print(made[0])
            results += made[1]
    found = others()
    console.print("comparison with Evidently/NannyML: " + (
        f"{', '.join(found)} installed but not wired in this script" if found
        else "neither is installed; skipped"))
    console.print(f"[bold]{sum(results)} of {len(results)} targets met[/]")
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = args.save / f"drift-{stamp}.json"
        path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "calibration": cal, "dataset": ds, "speed": sp,
                                    "concept": con, "stream_false_alarms": fa,
                                    "label_free": lf,
                                    "targets_met": sum(results), "targets": len(results)},
                                   indent=1))
        console.print(f"saved {path}")
    return 0 if all(results) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
