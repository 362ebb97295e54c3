"""Two tables as one matrix, for the multivariate tests (:mod:`rampup.drift.multivariate`,
:mod:`rampup.drift.discriminant`): the same subsample and the same encoding for both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIN_IMPORTANCE", "TOP_FEATURES", "encode", "subsample"]

#: features named in ``top_features`` (at most).
TOP_FEATURES = 5
#: importances below this (in AUC) are noise and not named.
MIN_IMPORTANCE = 0.005


def subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    return df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))]


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
