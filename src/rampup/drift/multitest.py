"""Multiple-testing corrections across features: Benjamini-Hochberg and Bonferroni.

Testing twenty features at 5 % each flags at least one on two windows out of three with
no drift at all; "drift when half the columns drift" has no error rate at all. rampup
adjusts the per-feature p-values instead:

* ``bh`` (default): Benjamini-Hochberg q-values; flagging ``q ≤ alpha`` keeps the
  expected share of false discoveries among flagged features at most ``alpha``
  (independent or positively dependent tests) — and, when nothing drifts, the chance of
  any flag at ``alpha``;
* ``bonferroni``: ``min(1, m·p)``; the chance of any false flag is at most ``alpha``;
* ``none``: the raw p-values.

NaN p-values (features that were not tested) are left out of ``m`` and stay NaN.

>>> [round(q, 4) for q in adjust([0.01, 0.04, 0.03, 0.005], "bh")]
[0.02, 0.04, 0.04, 0.02]
>>> adjust([0.01, 0.3, float("nan")], "bonferroni")
[0.02, 0.6, nan]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from rampup.errors import ValidationError

Correction = Literal["bh", "bonferroni", "none"]
CORRECTIONS: tuple[str, ...] = ("bh", "bonferroni", "none")


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values): ``min over j ≥ i of p_(j)·m/j``, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return [float(x) for x in q]


def bonferroni(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    return [min(1.0, float(p) * m) for p in p_values]


def adjust(p_values: Sequence[float], method: str = "bh") -> list[float]:
    """Adjusted p-values by ``method`` (see the module docstring); NaNs pass through."""
    if method not in CORRECTIONS:
        raise ValidationError(f"unknown multiple-testing correction {method!r}",
                              fix="use bh, bonferroni or none")
    idx = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    tested = [float(p_values[i]) for i in idx]
    if method == "bh":
        adjusted = benjamini_hochberg(tested)
    elif method == "bonferroni":
        adjusted = bonferroni(tested)
    else:
        adjusted = tested
    out = [math.nan] * len(p_values)
    for i, q in zip(idx, adjusted, strict=True):
        out[i] = q
    return out
