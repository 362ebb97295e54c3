"""Stored mode: a window's profile against the version's reference profile.

Neither side needs raw rows. The reference profile was computed once at registration
(:func:`rampup.registry.profile.compute_profile`); a window profile has the same shape per
feature and comes from the monitor's mergeable aggregates, or from
:func:`window_profile` on rows read from the prediction log. Numeric windows should be
counted on the reference's bins (then the binned test is exact); a window binned on its
own edges is re-binned approximately and the result says so. Cost: a few microseconds
per feature plus one cached simulation per distinct (bins, window size), whatever the
number of rows behind the profiles.

>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b", "c"], 5000)})
>>> cur = pd.DataFrame({"x": rng.normal(0.5, 1, 400), "c": rng.choice(["a", "b", "c"], 400)})
>>> schema = infer_schema(ref)
>>> reference = compute_profile(ref, schema)
>>> report = compare_profiles(reference, window_profile(cur, reference, schema))
>>> report.drifted_features
['x']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rampup.drift.calibrate import NullCache
from rampup.drift.features import (
    categorical_counts,
    missing_change,
    numeric_profiles,
    rows_of,
    unseen_result,
)
from rampup.drift.report import (
    DomainResult,
    DriftConfig,
    DriftReport,
    TestResult,
    build_report,
)
from rampup.errors import ValidationError
from rampup.registry.profile import bin_counts, compute_profile, infer_schema, metric_frame
from rampup.registry.schema import MEDIA_DTYPES, InputSchema

__all__ = ["compare_profiles", "feature_entries", "profile_results", "window_profile"]


def feature_entries(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The per-feature entries of a profile: ``profile["features"]`` for a full profile,
    else the mapping itself (a window profile may be just ``{feature: entry}``)."""
    inner = profile.get("features")
    if isinstance(inner, Mapping):
        return dict(inner)
    return {k: v for k, v in profile.items() if isinstance(v, Mapping) and "kind" in v}


def window_profile(df: pd.DataFrame, reference: Mapping[str, Any],
                   schema: InputSchema | None = None) -> dict[str, Any]:
    """Profile window rows like the reference, counting numeric values on the
    reference's bins (what the monitor does), so the binned tests are exact."""
    ref_features = feature_entries(reference)
    if schema is None:
        schema = infer_schema(df[[c for c in df.columns if c in ref_features]])
    present = InputSchema([f for f in schema.features if f.name in df.columns])
    vocab = {f.name: (ref_features.get(f.name) or {}).get("vocabulary") or []
             for f in present.features if f.dtype == "text"}
    prof = compute_profile(df, present, data_hash="window", vocabularies=vocab)
    media = [f for f in present.features if f.dtype in MEDIA_DTYPES]
    metrics = pd.concat([metric_frame(df[f.name], f, vocab.get(f.name)) for f in media],
                        axis=1) if media else None
    for name, entry in prof["features"].items():
        ref = ref_features.get(name)
        if entry["kind"] == "numeric" and ref is not None and ref.get("bins") is not None:
            col = df[name] if name in df.columns else (
                metrics[name] if metrics is not None else pd.Series(dtype=np.float64))
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            entry["bins"] = list(ref["bins"])
            entry["counts"] = bin_counts(values, ref).tolist()
    return prof


def profile_results(reference: Mapping[str, Any], window: Mapping[str, Any],
                    config: DriftConfig, cache: NullCache,
                    schema: InputSchema | None = None) -> list[TestResult]:
    """Undecided results for every reference feature the window also profiled."""
    refs, curs = feature_entries(reference), feature_entries(window)
    known = {f.name: f.categories for f in schema.features} if schema else {}
    results: list[TestResult] = []
    for name, ref in refs.items():
        cur = curs.get(name)
        if cur is None:
            continue
        kind = ref.get("kind")
        if kind == "numeric" and cur.get("kind") == "numeric":
            results.append(numeric_profiles(name, ref, cur, config, cache))
        elif kind == "media":  # tested through its input metrics (photo.brightness ...)
            pass
        elif kind == "categorical":
            rc, cc = ref.get("counts") or {}, cur.get("counts") or {}
            results.append(categorical_counts(name, rc, cc, config, cache, known.get(name)))
            results.append(unseen_result(name, rc, cc, config, known.get(name),
                                         cur.get("unseen")))
        else:
            n_ref, n_cur = int(ref.get("count") or 0), int(cur.get("count") or 0)
            results.append(TestResult(name, "text", "none", math.nan, math.nan, math.nan,
                                      "none", config.minimum(name, "text"), n_ref, n_cur,
                                      notes=(f"{kind} features are compared in exact mode "
                                             "only",)))
        m = missing_change(name, *rows_of(ref, reference.get("rows")),
                           *rows_of(cur, window.get("rows")), config)
        if m is not None:
            results.append(m)
    return results


def compare_profiles(reference: Mapping[str, Any], window: Mapping[str, Any],
                     config: DriftConfig | None = None, *, cache: NullCache | None = None,
                     schema: InputSchema | None = None, meta: Mapping[str, Any] | None = None,
                     extra: list[TestResult] | None = None,
                     multivariate: DomainResult | None = None) -> DriftReport:
    """The drift report of a window profile against a reference profile.

    ``extra`` adds undecided results (outputs, labels) to the same decision; pass a
    long-lived ``cache`` to reuse calibrations across calls.
    """
    config = config or DriftConfig()
    cache = cache if cache is not None else NullCache(config.reps, config.seed)
    if not feature_entries(reference):
        raise ValidationError("the reference profile has no features",
                              fix="register the version with --reference training data")
    results = profile_results(reference, window, config, cache, schema) + list(extra or [])
    info = {"mode": "profiles", "reference_rows": reference.get("rows"),
            "current_rows": window.get("rows"), **(meta or {})}
    return build_report(results, config, info, multivariate)
