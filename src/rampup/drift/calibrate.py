"""Null distributions of binned drift statistics at the window's own size.

Fixed thresholds (PSI ≥ 0.1, a distance ≥ 0.1) fire on most no-change windows of a few
hundred rows and miss real shifts on large ones, because the statistics' noise shrinks
like 1/√n. rampup instead simulates what each statistic looks like **without drift** at
the current window size ``n`` and the reference size ``n_ref``:

* the true bin masses are uncertain by the reference's own sample: draw
  ``p* ~ Dirichlet(reference counts)`` (for quantile bins this is the exact law of the
  bin masses; for other bins the Bayesian posterior);
* draw a window ``counts* ~ Multinomial(n, p*)`` and compute every statistic between the
  reference histogram and it.

With ``n_ref ≫ n`` this is plain multinomial resampling from the reference proportions;
when the window is as large as the reference, the reference's noise is counted too (else
large windows would false-alarm). p-values are ``(1 + #{null ≥ observed}) / (R + 1)``,
valid at any number of draws R (1000 by default);
beyond the simulated range the binned KS falls back to the Kolmogorov tail, which bounds
it from above (a sup over fewer points is smaller). Simulations are cached per
(reference counts, n): features with the same bins share one, and a second call is free.

>>> cache = NullCache(reps=500, seed=1)
>>> null = cache.get([100, 100, 100, 100], 200)
>>> null.p_value("psi", 0.0), null.p_value("psi", 10.0)
(1.0, 0.001996007984031936)
>>> cache.get([100, 100, 100, 100], 200) is null
True
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from rampup.drift.stats import FloatArray, distances_many, kolmogorov_sf

#: the binned statistics a null distribution holds, by name.
STATISTICS = ("binned_ks", "psi", "js", "hellinger")
T = TypeVar("T")
DEFAULT_REPS = 1000
#: every bin expects this many values: draw windows from the multinomial's normal limit
#: (the binned KS's 95 % and 99 % points then agree with exact draws within about 1 %).
GAUSSIAN_MIN_EXPECTED = 30.0


def _multinomial_rows(rng: np.random.Generator, n: int, p: FloatArray) -> npt.NDArray[Any]:
    """One multinomial draw of size ``n`` per row of ``p``.

    Exact (conditional binomials, one vectorised draw per bin: much faster than
    ``Generator.multinomial`` on a matrix) unless every bin expects at least
    :data:`GAUSSIAN_MIN_EXPECTED` values; then the multinomial's normal limit (same mean
    and covariance), where the two are indistinguishable for these statistics.
    """
    if n * float(p.min()) >= GAUSSIAN_MIN_EXPECTED:
        e = rng.standard_normal(p.shape) * np.sqrt(n * p)
        draws = np.clip(n * p + e - p * e.sum(axis=1, keepdims=True), 0.0, None)
        return np.asarray(draws, dtype=np.float64)
    reps, k = p.shape
    out = np.zeros((reps, k), dtype=np.int64)
    left = np.full(reps, n, dtype=np.int64)
    mass = np.ones(reps)
    for j in range(k - 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            cond = np.clip(np.where(mass > 0, p[:, j] / mass, 0.0), 0.0, 1.0)
        out[:, j] = rng.binomial(left, cond)
        left -= out[:, j]
        mass -= p[:, j]
    out[:, -1] = left
    return out


@dataclass(frozen=True, eq=False)
class NullDistribution:
    """Simulated no-drift values of each binned statistic, sorted ascending."""

    n: int
    n_ref: int
    values: dict[str, FloatArray]

    @property
    def reps(self) -> int:
        return len(self.values["psi"])

    def p_value(self, statistic: str, observed: float) -> float:
        """Monte Carlo p-value P(null ≥ observed), never below 1/(R+1) except for the
        binned KS beyond the simulated range (Kolmogorov tail)."""
        null = self.values[statistic]
        exceed = len(null) - int(np.searchsorted(null, observed - 1e-12, side="left"))
        p = (1 + exceed) / (len(null) + 1)
        if exceed == 0 and statistic == "binned_ks":
            p = min(p, kolmogorov_sf(observed, self.n, self.n_ref, exact_up_to=0))
        return float(p)

    def threshold(self, statistic: str, alpha: float) -> float:
        """The (1 - alpha) quantile (linear interpolation, like ``np.quantile``): values
        above it are significant at ``alpha``."""
        null = self.values[statistic]
        pos = (1.0 - alpha) * (len(null) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(null) - 1)
        return float(null[lo] + (null[hi] - null[lo]) * (pos - lo))


@dataclass
class NullCache:
    """Null distributions per (reference counts, n), simulated on first use.

    Seeded per key, so a result does not depend on what else was asked before.
    """

    reps: int = DEFAULT_REPS
    seed: int = 0
    _cache: dict[tuple[Any, ...], NullDistribution] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def get(self, ref_counts: Sequence[int] | npt.NDArray[Any], n: int) -> NullDistribution:
        ref = np.asarray(ref_counts, dtype=np.int64)
        key = (ref.tobytes(), int(n))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._simulate(ref, int(n))
        return hit

    def __len__(self) -> int:
        return len(self._cache)

    def memo(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """Anything else derived from a reference alone (e.g. its bin geometry), kept
        with the calibrations."""
        full = ("memo", *key)
        if full not in self._memo:
            self._memo[full] = make()
        return self._memo[full]  # type: ignore[no-any-return]

    def _simulate(self, ref: npt.NDArray[np.int64], n: int) -> NullDistribution:
        rng = np.random.default_rng([self.seed, n, zlib.crc32(ref.tobytes())])
        # Dirichlet(counts) by normalised gammas; an empty reference bin keeps a tiny mass.
        shape = np.maximum(ref.astype(np.float64), 0.5)
        g = rng.standard_gamma(np.broadcast_to(shape, (self.reps, len(ref))))
        p = g / g.sum(axis=1, keepdims=True)
        counts = _multinomial_rows(rng, n, p)
        values = distances_many(ref, counts)
        return NullDistribution(n, int(ref.sum()), {k: np.sort(v) for k, v in values.items()})
