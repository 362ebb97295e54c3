"""Drift of embeddings: a kernel two-sample test that stays cheap at thousands of rows,
and the domain classifier on the same vectors.

**Random-feature MMD.** The Gaussian-kernel maximum mean discrepancy is approximated with
``n_features`` random Fourier features ``phi(x) = sqrt(2 / D) cos(x W + b)`` (Rahimi &
Recht), ``W ~ N(0, 1 / bandwidth^2)``, so MMD^2 is the squared distance between the two
mean feature vectors: linear in the rows, ``O((n + m) D d)``. The bandwidth is the median
pairwise distance of (a sample of) the reference — the usual heuristic. The threshold is
a **permutation null**: the pooled feature rows are relabelled ``n_permutations`` times
(one matrix product for all of them) and the p-value is ``(1 + #{null >= observed}) / (1 +
B)``. A permutation test is exact at any window size, so it holds its false-alarm rate
without an asymptotic approximation; the calibration and power table over window sizes
100 to 5,000 is in ``benchmarks/unstructured.py``.

**Domain classifier.** :func:`embedding_domain_test` hands the vectors to
:func:`rampup.drift.multivariate.domain_classifier` (logistic regression on standardised
dimensions, two-fold cross-fitted AUC with an exact Mann-Whitney p-value).

>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(500, 16))
>>> mmd_test(ref, rng.normal(size=(300, 16)), seed=1).p_value > 0.05
True
>>> mmd_test(ref, rng.normal(0.3, 1, size=(300, 16)), seed=1).drifted
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rampup.drift.report import DomainResult
from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
N_FEATURES = 256
N_PERMUTATIONS = 200
BANDWIDTH_SAMPLE = 500


@dataclass(frozen=True)
class MMDResult:
    """The random-feature MMD^2 estimate, its permutation p-value and the verdict."""

    mmd2: float
    p_value: float
    threshold: float  # the (1 - alpha) quantile of the permutation null
    bandwidth: float
    n_ref: int
    n_cur: int
    alpha: float = 0.05

    @property
    def drifted(self) -> bool:
        return self.p_value < self.alpha


def _as_matrix(x: npt.ArrayLike, what: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or not len(a):
        raise ValidationError(f"the {what} embeddings are not a non-empty (rows, dims) array",
                              fix="pass one embedding vector per row, all of one length")
    if not np.isfinite(a).all():
        raise ValidationError(f"the {what} embeddings hold NaN or infinity",
                              fix="drop or fix those rows")
    return a


def median_bandwidth(x: FloatArray, rng: np.random.Generator,
                     sample: int = BANDWIDTH_SAMPLE) -> float:
    """The median pairwise Euclidean distance of up to ``sample`` rows of ``x``."""
    s = x[rng.choice(len(x), min(sample, len(x)), replace=False)]
    sq = (s * s).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * s @ s.T, 0.0)
    iu = np.triu_indices(len(s), k=1)
    med = float(np.sqrt(np.median(d2[iu]))) if len(iu[0]) else 1.0
    return med if med > 0 else 1.0


def mmd_test(reference: npt.ArrayLike, current: npt.ArrayLike, *,
             n_features: int = N_FEATURES, n_permutations: int = N_PERMUTATIONS,
             bandwidth: float | None = None, alpha: float = 0.05,
             seed: int = 0) -> MMDResult:
    """Random-feature MMD two-sample test (see the module docstring)."""
    x = _as_matrix(reference, "reference")
    y = _as_matrix(current, "current")
    if x.shape[1] != y.shape[1]:
        raise ValidationError(f"reference embeddings have {x.shape[1]} dimensions, current "
                              f"ones {y.shape[1]}", fix="compare embeddings of one model")
    rng = np.random.default_rng(seed)
    bw = bandwidth if bandwidth is not None else median_bandwidth(x, rng)
    w = rng.normal(0.0, 1.0 / bw, size=(x.shape[1], n_features))
    b = rng.uniform(0.0, 2 * math.pi, n_features)
    phi = np.cos(np.vstack([x, y]) @ w + b) * math.sqrt(2.0 / n_features)
    n, m = len(x), len(y)
    sign = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    observed = float(np.sum((sign @ phi) ** 2))
    perms = np.stack([rng.permutation(sign) for _ in range(n_permutations)])
    null = np.sum((perms @ phi) ** 2, axis=1)
    p = (1.0 + float(np.count_nonzero(null >= observed))) / (1.0 + n_permutations)
    return MMDResult(observed, p, float(np.quantile(null, 1 - alpha)), bw, n, m, alpha)


def embedding_domain_test(reference: npt.ArrayLike, current: npt.ArrayLike, *,
                          max_rows: int = 2000, alpha: float = 0.05,
                          seed: int = 0) -> DomainResult:
    """The domain classifier (logistic, cross-fitted) on embedding vectors."""
    import pandas as pd

    from rampup.drift.multivariate import domain_classifier

    x = _as_matrix(reference, "reference")
    y = _as_matrix(current, "current")
    cols = [f"e{i}" for i in range(x.shape[1])]
    return domain_classifier(pd.DataFrame(x, columns=cols), pd.DataFrame(y, columns=cols),
                             model="logistic", max_rows=max_rows, alpha=alpha, seed=seed)
