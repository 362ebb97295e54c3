"""Which confidence threshold keeps the error of automated decisions under a target.

Pure. Input: labelled review items — the model's confidence, whether its suggestion was
right, and a weight (an audit sample stands for ``1 / audit_rate`` model decisions).
For each candidate threshold ``t``: the weighted error among items with confidence
``>= t`` with a Wilson upper bound on the effective sample size (Kish), and the weighted
share of all predictions at or above ``t`` (what would be automated). The advice is the
lowest threshold whose *upper bound* stays under the target, so a small sample gives a
cautious (or no) recommendation rather than an optimistic one.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> conf = rng.uniform(0.5, 1.0, 2000)
>>> correct = rng.random(2000) < conf  # calibrated: P(right) = confidence
>>> a = advise(conf, correct, target=0.1)
>>> 0.75 < a.threshold < 0.9, 0.2 < a.share < 0.5, a.error_upper <= 0.1
(True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rampup.drift.stats import wilson

MIN_ITEMS = 30


@dataclass(frozen=True)
class Advice:
    target: float
    n: int  # labelled items used
    threshold: float | None  # None: no threshold meets the target with this much data
    share: float | None  # share of predictions the threshold would automate
    share_ci: tuple[float, float] | None
    error: float | None  # weighted error of automated decisions at the threshold
    error_upper: float | None  # its upper confidence bound
    n_above: int  # labelled items at or above the threshold
    message: str
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "n": self.n, "threshold": self.threshold,
                "share": self.share, "share_ci": list(self.share_ci) if self.share_ci else None,
                "error": self.error, "error_upper": self.error_upper, "n_above": self.n_above,
                "message": self.message, "curve": self.curve}


def _eff(w: np.ndarray[Any, Any]) -> float:
    s2 = float((w * w).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def advise(confidence: Sequence[float] | np.ndarray[Any, Any],
           correct: Sequence[bool] | np.ndarray[Any, Any],
           weight: Sequence[float] | np.ndarray[Any, Any] | None = None, *,
           target: float = 0.05, level: float = 0.95, min_items: int = MIN_ITEMS) -> Advice:
    c = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    w = np.ones(len(c)) if weight is None else np.asarray(weight, dtype=float)
    keep = ~np.isnan(c)
    c, ok, w = c[keep], ok[keep], w[keep]
    n = len(c)
    if n < min_items:
        return Advice(target, n, None, None, None, None, None, 0,
                      f"only {n} labelled items with a confidence; need at least {min_items} "
                      "(review more items, or raise audit_rate)")
    order = np.argsort(-c, kind="stable")
    c, ok, w = c[order], ok[order], w[order]
    total = float(w.sum())
    n_total_eff = _eff(w)
    cw = np.cumsum(w)
    cerr = np.cumsum(w * ~ok)
    cw2 = np.cumsum(w * w)
    best: int | None = None
    curve: list[dict[str, float]] = []
    # candidate cut after each distinct confidence value (ties stay together)
    last = np.r_[c[1:] != c[:-1], True]
    for i in np.flatnonzero(last):
        k = int(i) + 1
        err = float(cerr[i] / cw[i])
        n_eff = float(cw[i] ** 2 / cw2[i])
        m = max(1, round(n_eff))
        upper = wilson(round(err * m), m, level)[1]
        if k >= min_items and upper <= target:
            best = int(i)
        curve.append({"threshold": float(c[i]), "share": float(cw[i] / total),
                      "error": err, "error_upper": upper, "n": float(k)})
    curve = _thin(curve)
    if best is None:
        return Advice(target, n, None, None, None, None, None, 0,
                      f"no threshold keeps the automated error under {target:.1%} at "
                      f"{level:.0%} confidence with {n} labelled items; keep humans deciding "
                      "or collect more labels", curve)
    k = int(best) + 1
    share = float(cw[best] / total)
    m_tot = max(1, round(n_total_eff))
    share_ci = wilson(round(share * m_tot), m_tot, level)
    err = float(cerr[best] / cw[best])
    n_eff = float(cw[best] ** 2 / cw2[best])
    upper = wilson(round(err * max(1, round(n_eff))), max(1, round(n_eff)), level)[1]
    thr = float(c[best])
    msg = (f"threshold {thr:.3f} would automate {share:.1%} of predictions "
           f"(CI {share_ci[0]:.1%}-{share_ci[1]:.1%}) with an error of {err:.1%} "
           f"(upper bound {upper:.1%} < target {target:.1%}), from {n} labelled items "
           f"({k} at or above it)")
    return Advice(target, n, thr, share, share_ci, err, upper, k, msg, curve)


def _thin(curve: list[dict[str, float]], keep: int = 20) -> list[dict[str, float]]:
    if len(curve) <= keep:
        return curve
    step = math.ceil(len(curve) / keep)
    return curve[::step]
