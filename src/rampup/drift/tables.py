"""Two tables as one matrix, for the multivariate tests (:mod:`rampup.drift.multivariate`,
:mod:`rampup.drift.discriminant`): the same subsample and the same encoding for both."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

__all__ = ["MIN_IMPORTANCE", "TOP_FEATURES", "encode", "importances", "mann_whitney_greater",
           "subsample", "two_tables"]

FloatArray = npt.NDArray[np.float64]

#: features named in ``top_features`` (at most).
TOP_FEATURES = 5
#: importances below this (in AUC) are noise and not named.
MIN_IMPORTANCE = 0.005


def subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    return df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))]


def two_tables(reference: pd.DataFrame, current: pd.DataFrame,
               columns: Sequence[str] | None, max_rows: int, rng: np.random.Generator
               ) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """The columns to compare (default: the shared ones) and each table subsampled to
    ``max_rows`` rows; a clear error when the tables share no column."""
    from rampup.errors import ValidationError

    cols = list(columns) if columns is not None else \
        [c for c in reference.columns if c in current.columns]
    if not cols:
        raise ValidationError("the two tables share no columns",
                              fix="compare tables with the same feature columns")
    return cols, subsample(reference, max_rows, rng), subsample(current, max_rows, rng)


def encode(ref: pd.DataFrame, cur: pd.DataFrame, columns: Sequence[str]
            ) -> tuple[np.ndarray[Any, Any], list[bool]]:
    """Both tables as one float matrix: numbers as they are (NaN kept), everything else
    as category codes (rarest past the 250th lumped together, unseen ones too)."""
    both = pd.concat([ref[list(columns)], cur[list(columns)]], ignore_index=True)
    cols: list[np.ndarray[Any, Any]] = []
    categorical: list[bool] = []
    for c in columns:
        s = both[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
            categorical.append(False)
            continue
        text = s.astype("string")
        top = text.iloc[:len(ref)].value_counts().index[:250]
        codes = pd.Index(top).get_indexer(text).astype(np.float64)
        codes[(codes < 0) & text.notna().to_numpy()] = 250  # unseen or rare
        codes[text.isna().to_numpy()] = np.nan
        cols.append(codes)
        categorical.append(True)
    return np.column_stack(cols), categorical


def mann_whitney_greater(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """``(AUC, p)``: the probability that an ``a`` score beats a ``b`` score (ties count
    half) and the one-sided Mann-Whitney p-value of "``a`` scores higher", by the normal
    approximation with tie and continuity corrections (what ``scipy.stats.mannwhitneyu``
    computes at these sizes, without importing ``scipy.stats``)."""
    n_a, n_b = len(a), len(b)
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="mergesort")
    ordered = both[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(first) - 1
    counts = np.bincount(group).astype(np.float64)
    mid_rank = np.flatnonzero(first) + (counts + 1) / 2  # average rank of each tie group
    ranks = np.empty(len(both))
    ranks[order] = mid_rank[group]
    u = float(ranks[:n_a].sum()) - n_a * (n_a + 1) / 2
    n = n_a + n_b
    ties = float((counts ** 3 - counts).sum())
    var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return u / (n_a * n_b), 1.0
    z = (u - n_a * n_b / 2 - 0.5) / math.sqrt(var)
    return u / (n_a * n_b), float(special.ndtr(-z))


def importances(fitted: Sequence[tuple[Callable[[FloatArray], FloatArray], npt.NDArray[np.intp]]],
                x: FloatArray, y: npt.NDArray[np.int64], aucs: Sequence[float],
                cols: Sequence[str], rng: np.random.Generator
                ) -> tuple[tuple[str, float], ...]:
    """Permutation importance on the held-out halves: the mean drop of held-out AUC when
    one column is shuffled, for ``fitted`` pairs of (scorer fitted on the other half, the
    held-out rows); the largest :data:`TOP_FEATURES` above :data:`MIN_IMPORTANCE`."""
    drops = np.zeros(len(cols))
    for (score, held), auc in zip(fitted, aucs, strict=True):
        xh, yh = x[held].copy(), y[held]
        for j in range(len(cols)):
            keep = xh[:, j].copy()
            xh[:, j] = keep[rng.permutation(len(keep))]
            s = score(xh)
            drops[j] += auc - mann_whitney_greater(s[yh == 1], s[yh == 0])[0]
            xh[:, j] = keep
    drops /= len(fitted)
    order = np.argsort(-drops, kind="stable")[:TOP_FEATURES]
    return tuple((str(cols[j]), round(float(drops[j]), 4)) for j in order
                 if drops[j] >= MIN_IMPORTANCE)
