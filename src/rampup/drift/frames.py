"""Exact mode: two tables of raw rows (``rampup drift --reference a --current b``).

Each column is converted and sorted once, then every statistic reads the sorted arrays:
the KS test (exact p-values up to 10 000 rows a side), the Wasserstein distance, and the
reference-quantile histograms for PSI/JS/Hellinger with thresholds calibrated at the
current size. Memory stays near one column's copies at a time.

>>> rng = np.random.default_rng(1)
>>> ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.integers(0, 2, 2000)})
>>> cur = pd.DataFrame({"x": rng.normal(size=500), "y": rng.integers(0, 2, 500)})
>>> cur.loc[:99, "x"] = np.nan
>>> report = compare_frames(ref, cur, label_column="y")
>>> [(r.feature, r.kind, r.verdict) for r in report.results]
[('x', 'numeric', 'no drift'), ('x', 'missing', 'drift'), ('y', 'label', 'no drift')]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from rampup.drift.calibrate import NullCache
from rampup.drift.features import (
    categorical_counts,
    missing_change,
    numeric_samples,
    unseen_result,
)
from rampup.drift.report import DomainResult, DriftConfig, DriftReport, TestResult, build_report
from rampup.drift.stats import FloatArray
from rampup.errors import ValidationError
from rampup.registry.profile import MAX_CATEGORIES, infer_feature, infer_schema
from rampup.registry.schema import Feature, InputSchema

__all__ = ["column_results", "compare_frames", "sorted_finite"]


def sorted_finite(s: pd.Series) -> FloatArray:
    """A column's finite values as sorted float64 (booleans as 0/1, text coerced)."""
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    x = np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan))
    x = np.sort(x[np.isfinite(x)])
    return np.asarray(x, dtype=np.float64)


def _counts(s: pd.Series) -> dict[str, int]:
    vc = s.dropna().astype(str).value_counts(sort=True)
    return {str(k): int(v) for k, v in vc.items()}


def _is_categorical(feature: Feature) -> bool:
    return feature.dtype == "bool" or feature.categories is not None


def column_results(name: str, ref: pd.Series, cur: pd.Series, feature: Feature,
                   config: DriftConfig, cache: NullCache, kind: str | None = None,
                   ) -> list[TestResult]:
    """The tests of one column: its distribution and, if any is missing, the missing
    fraction. ``kind`` overrides the feature kind (``output``, ``label``)."""
    out: list[TestResult] = []
    if _is_categorical(feature):
        rc, cc = _counts(ref), _counts(cur)
        out.append(categorical_counts(name, rc, cc, config, cache, feature.categories,
                                      kind or "categorical"))
        if kind is None:
            out.append(unseen_result(name, rc, cc, config, feature.categories))
    elif feature.dtype in ("int", "float"):
        out.append(numeric_samples(name, sorted_finite(ref), sorted_finite(cur), config,
                                   cache, kind or "numeric"))
    else:
        lengths = [sorted_finite(s.dropna().astype(str).str.len()) for s in (ref, cur)]
        out.append(numeric_samples(name, lengths[0], lengths[1], config, cache,
                                   kind or "text"))
    if kind is None:
        m = missing_change(name, int(ref.isna().sum()), len(ref), int(cur.isna().sum()),
                           len(cur), config)
        if m is not None:
            out.append(m)
    return out


def _target_feature(name: str, ref: pd.Series) -> Feature:
    """Labels and predictions with few distinct values are classes, else numbers."""
    feature = infer_feature(name, ref)
    if feature.dtype != "str" and ref.nunique(dropna=True) <= min(MAX_CATEGORIES, 20):
        return Feature(name, feature.dtype, categories=())
    return feature


def compare_frames(reference: pd.DataFrame, current: pd.DataFrame,
                   config: DriftConfig | None = None, *, schema: InputSchema | None = None,
                   label_column: str | None = None,
                   output_columns: Sequence[str] = (), cache: NullCache | None = None,
                   meta: Mapping[str, Any] | None = None,
                   multivariate: DomainResult | None = None,
                   workers: int | None = None) -> DriftReport:
    """The drift report of ``current`` rows against ``reference`` rows.

    Features are the schema's (inferred from the reference when not given, without the
    label and output columns). ``label_column`` is tested as the label (prior shift);
    ``output_columns`` (the model's predictions or scores) as outputs. Columns are
    tested on ``workers`` threads (default: one per CPU, at most 8).
    """
    config = config or DriftConfig()
    cache = cache if cache is not None else NullCache(config.reps, config.seed)
    targets = [c for c in [label_column, *output_columns] if c is not None]
    if schema is None:
        schema = infer_schema(reference, exclude=targets)
    missing = [f.name for f in schema.features if f.name not in current.columns] + \
              [c for c in targets if c not in current.columns or c not in reference.columns]
    if missing:
        raise ValidationError(f"column(s) {missing} are not in both tables",
                              fix="compare tables with the same columns, or drop those")
    features = [f for f in schema.features if f.name not in targets]

    def one(f: Feature) -> list[TestResult]:
        return column_results(f.name, reference[f.name], current[f.name], f, config, cache)

    # Columns are independent and NumPy releases the GIL while sorting: a thread per CPU.
    threads = max(1, min(workers or os.cpu_count() or 1, len(features), 8))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            per_column = list(pool.map(one, features))
    else:
        per_column = [one(f) for f in features]
    results: list[TestResult] = [r for rs in per_column for r in rs]
    for col, kind in [(label_column, "label")] + [(c, "output") for c in output_columns]:
        if col is not None:
            results += column_results(col, reference[col], current[col],
                                      _target_feature(col, reference[col]), config, cache, kind)
    info = {"mode": "rows", "reference_rows": len(reference), "current_rows": len(current),
            **(meta or {})}
    return build_report(results, config, info, multivariate)
