"""Bootstrap resampling with an injected, seeded ``np.random.Generator``.

Metrics that depend on the rows only through counts (confusion cells per slice, or
joint cells of two models for a paired comparison) are bootstrapped on the counts:
drawing ``n`` rows with replacement is the same as drawing the cell counts from a
multinomial with probabilities ``count / n``. That is exact, not an approximation, and
costs O(cells) per resample instead of O(rows). Other statistics (AUC) resample rows.

>>> rng = np.random.default_rng(0)
>>> draws = resample_counts(np.array([30, 70]), 1000, rng)
>>> draws.shape, bool((draws.sum(axis=1) == 100).all())
((1000, 2), True)
>>> lo, hi = percentile_interval(draws[:, 1] / 100, 0.95)
>>> bool(0.58 < lo < 0.65 and 0.74 < hi < 0.81)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def rng_from(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator: the one given, or a new one seeded with ``seed``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise ValidationError(f"confidence level {ci} is not between 0 and 1",
                              fix="use e.g. 0.95")


def resample_counts(counts: npt.ArrayLike, n_resamples: int,
                    rng: np.random.Generator) -> IntArray:
    """``n_resamples`` row-bootstrap draws of a count array of any shape.

    Returns ``(n_resamples, *counts.shape)``; every draw has the same total as ``counts``.
    """
    c = np.asarray(counts, dtype=np.int64)
    n = int(c.sum())
    if n == 0:
        return np.zeros((n_resamples, *c.shape), dtype=np.int64)
    flat = c.ravel().astype(np.float64) / n
    draws = rng.multinomial(n, flat, size=n_resamples)
    return draws.reshape(n_resamples, *c.shape).astype(np.int64, copy=False)


def resample_weights(n: int, n_resamples: int, rng: np.random.Generator) -> IntArray:
    """How often each of ``n`` rows is drawn in each resample, ``(n_resamples, n)``.

    >>> w = resample_weights(5, 3, np.random.default_rng(0))
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    """
    if n == 0:
        return np.zeros((n_resamples, 0), dtype=np.int64)
    draws = rng.integers(0, n, size=(n_resamples, n)) + (np.arange(n_resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)


def weight_chunks(n: int, n_resamples: int, rng: np.random.Generator,
                  budget: int = 4_000_000) -> Iterator[IntArray]:
    """:func:`resample_weights` in chunks of at most ``budget`` cells (bounded memory)."""
    step = max(1, budget // max(n, 1))
    for start in range(0, n_resamples, step):
        yield resample_weights(n, min(step, n_resamples - start), rng)


def quantiles(samples: npt.ArrayLike, levels: npt.ArrayLike, axis: int = 0) -> FloatArray:
    """``np.quantile`` (linear) along ``axis`` ignoring NaN, NaN where all are NaN, no warnings.

    >>> quantiles(np.array([[1.0, np.nan], [3.0, np.nan], [2.0, np.nan]]), [0.5]).tolist()
    [[2.0, nan]]
    """
    a = np.moveaxis(np.asarray(samples, dtype=np.float64), axis, 0)
    q = np.asarray(levels, dtype=np.float64)
    srt = np.sort(a, axis=0)  # NaN sorts last
    m = (~np.isnan(a)).sum(0)
    pos = q.reshape(-1, *([1] * m.ndim)) * np.maximum(m - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
    frac = pos - lo
    below = np.take_along_axis(srt, lo, axis=0)
    above = np.take_along_axis(srt, hi, axis=0)
    out = below + (above - below) * frac
    return np.where(m > 0, out, np.nan)


def percentile_interval(samples: npt.ArrayLike, ci: float = 0.95,
                        axis: int = 0) -> tuple[FloatArray, FloatArray]:
    """The central ``ci`` percentile interval of bootstrap samples along ``axis``."""
    check_ci(ci)
    alpha = (1 - ci) / 2
    lo, hi = quantiles(samples, [alpha, 1 - alpha], axis)
    return lo, hi


def bootstrap_rows(statistic: Callable[[IntArray], float], n: int, *, n_resamples: int,
                   rng: np.random.Generator, ci: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic(row_indices)`` over row resamples (any statistic).

    >>> x = np.arange(100.0)
    >>> lo, hi = bootstrap_rows(lambda idx: float(x[idx].mean()), 100, n_resamples=200,
    ...                         rng=np.random.default_rng(1))
    >>> bool(40 < lo < 49.5 < hi < 60)
    True
    """
    check_ci(ci)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_resamples)])
    lo, hi = percentile_interval(values, ci)
    return float(lo), float(hi)


def paired_interval(a: npt.ArrayLike, b: npt.ArrayLike,
                    ci: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of ``b - a`` for paired resamples (same draws for both)."""
    return percentile_interval(np.asarray(b, np.float64) - np.asarray(a, np.float64), ci)
