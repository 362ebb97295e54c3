"""Raw mode's multivariate tests side by side: false alarms, power and time.

    python benchmarks/multivariate.py               # 200 null pairs, 20 per change (~3 min)
    python benchmarks/multivariate.py --quick       # 40 / 5: a smoke run, not a verdict

Tables of 2,000 + 2,000 rows x 11 columns (10 standard normals, one 3-level category,
10% missing in one column). Null pairs: both tables from the same distribution; the share
flagged (p <= 0.05) is the false-alarm rate, with its Wilson interval. Changes the
per-feature tests cannot see: two columns rotated by an angle (their marginals stay
standard normal, their correlation moves from 0 to sin(angle)), and a non-linear one (the
sign of x1 follows the sign of x0: every marginal unchanged, zero correlation). Each
change is flagged when the test's verdict is drift (p <= 0.05 and AUC >= 0.55). Rows:
``qda`` (the default of raw mode, NumPy) and ``hgb`` (scikit-learn gradient boosting).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from rampup.drift.multivariate import domain_classifier
from rampup.drift.stats import wilson

MODELS = ("qda", "hgb")


def table(n: int, rng: np.random.Generator, d: int = 10) -> pd.DataFrame:
    df = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{i}" for i in range(d)])
    df["city"] = rng.choice(["paris", "rome", "oslo"], n)
    df.loc[rng.random(n) < 0.1, "x2"] = np.nan
    return df


def rotate(angle: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out["x1"] = np.cos(angle) * df["x1"] - np.sin(angle) * df["x0"]
        return out
    return change


def same_sign(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["x1"] = np.abs(df["x1"]) * np.sign(df["x0"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--null", type=int, default=200, help="null pairs per model")
    p.add_argument("--changed", type=int, default=20, help="pairs per change and model")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.null, args.changed = 40, 5
    console = Console()
    changes = {"rotation 0.3 rad (corr 0.30)": rotate(0.3),
               "rotation 0.5 rad (corr 0.48)": rotate(0.5),
               "sign of x1 follows x0 (non-linear)": same_sign}
    out = Table(title=f"multivariate tests, {args.rows:,} + {args.rows:,} rows x 11 columns")
    out.add_column("model")
    out.add_column(f"false alarms ({args.null} null pairs)")
    for name in changes:
        out.add_column(f"{name} ({args.changed})")
    out.add_column("seconds per test")
    for model in MODELS:
        t0, calls = time.perf_counter(), 0
        alarms = 0
        for r in range(args.null):
            rng = np.random.default_rng(1000 + r)
            res = domain_classifier(table(args.rows, rng), table(args.rows, rng), model=model,
                                    seed=r)
            alarms += res.p_value <= 0.05
            calls += 1
        lo, hi = wilson(alarms, args.null)
        cells = [f"{alarms / args.null:.1%} [{lo:.1%}, {hi:.1%}]"]
        for change in changes.values():
            hits = 0
            for r in range(args.changed):
                rng = np.random.default_rng(2000 + r)
                res = domain_classifier(table(args.rows, rng), change(table(args.rows, rng)),
                                        model=model, seed=r)
                hits += res.drifted
                calls += 1
            cells.append(f"{hits} of {args.changed}")
        cells.append(f"{(time.perf_counter() - t0) / calls:.3f}")
        out.add_row(model, *cells)
    console.print(out)


if __name__ == "__main__":
    main()
