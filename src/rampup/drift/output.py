"""Output drift: the model's own predictions (class mix, scores) against reference outputs.

Inputs can drift without consequence and outputs can drift when inputs look stable (a
feature the tests do not cover, an interaction). Outputs are profiled like features,
as a table with a ``prediction`` column (classes, or numbers for regression) and a
``confidence`` column, and compared with the same tests (kind ``output``): chi-square
homogeneity and the Jensen-Shannon distance for the class mix, KS/binned KS and the
Wasserstein distance for scores. Reference outputs are the model's predictions on its
reference data (a stored output profile), or a baseline period of the prediction log.

>>> ref = pd.DataFrame({"prediction": ["no"] * 800 + ["yes"] * 200,
...                     "confidence": np.linspace(0.5, 1.0, 1000)})
>>> cur = pd.DataFrame({"prediction": ["no"] * 600 + ["yes"] * 400,
...                     "confidence": np.linspace(0.5, 1.0, 1000)})
>>> rs = output_results(output_profile(ref), output_profile(cur, output_profile(ref)))
>>> [(r.feature, r.test, r.drifted or r.verdict) for r in decide(rs, 0.05, "bh")]
[('prediction', 'chi2', True), ('confidence', 'binned_ks', 'no drift')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rampup.drift.calibrate import NullCache
from rampup.drift.features import categorical_counts, numeric_profiles
from rampup.drift.profiles import feature_entries, window_profile
from rampup.drift.report import DriftConfig, TestResult, decide
from rampup.registry.profile import compute_profile
from rampup.registry.schema import Feature, InputSchema
from rampup.rollout.agreement import canonical

__all__ = ["decide", "monitor_outputs", "output_profile", "output_results", "output_schema"]

COLUMNS = ("prediction", "confidence")


def output_schema(df: pd.DataFrame) -> InputSchema:
    """Predictions with at most 20 distinct values are classes, else numbers."""
    features = []
    if "prediction" in df.columns:
        pred = df["prediction"].dropna()
        numeric = pd.api.types.is_numeric_dtype(pred.dtype) and \
            not pd.api.types.is_bool_dtype(pred.dtype)
        if numeric and pred.nunique() > 20:
            features.append(Feature("prediction", "float", nullable=True))
        else:
            features.append(Feature("prediction", "str", nullable=True, categories=()))
    if "confidence" in df.columns and df["confidence"].notna().any():
        features.append(Feature("confidence", "float", nullable=True))
    return InputSchema(features)


def output_profile(df: pd.DataFrame, reference: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """Profile an outputs table; with the ``reference`` output profile, numeric columns
    are counted on its bins and classes follow its kind."""
    frame = df[[c for c in COLUMNS if c in df.columns]].copy()
    if "prediction" in frame.columns:
        ref_pred = feature_entries(reference or {}).get("prediction")
        if (ref_pred is not None and ref_pred.get("kind") == "categorical") or \
                output_schema(frame).features[0].dtype == "str":
            frame["prediction"] = frame["prediction"].map(
                lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                else canonical(v))
    schema = output_schema(frame)
    if reference is not None:
        return window_profile(frame, reference, schema)
    return compute_profile(frame, schema, data_hash="outputs")


def monitor_outputs(output: Mapping[str, Any] | None) -> dict[str, Any]:
    """The monitor's window ``output`` section as output profile entries: class counts,
    and numeric predictions and confidences as quantiles (the monitor keeps sketches)."""
    if not output:
        return {"features": {}}
    entries: dict[str, Any] = {}
    classes, values, conf = output.get("classes"), output.get("values"), \
        output.get("confidence")
    if classes:
        counts = {str(k): int(v) for k, v in classes["counts"].items()}
        entries["prediction"] = {"kind": "categorical", "count": sum(counts.values()),
                                 "missing_fraction": 0.0, "counts": counts}
    elif values:
        entries["prediction"] = {"kind": "numeric", "missing_fraction": 0.0, "bins": None,
                                 **values}
    if conf:
        entries["confidence"] = {"kind": "numeric", "missing_fraction": 0.0, "bins": None,
                                 **conf}
    return {"rows": output.get("count"), "features": entries}


def output_results(reference: Mapping[str, Any], current: Mapping[str, Any],
                   config: DriftConfig | None = None, cache: NullCache | None = None,
                   ) -> list[TestResult]:
    """Undecided ``output`` results for each output column both profiles have."""
    config = config or DriftConfig()
    cache = cache if cache is not None else NullCache(config.reps, config.seed)
    refs, curs = feature_entries(reference), feature_entries(current)
    out: list[TestResult] = []
    for name in COLUMNS:
        ref, cur = refs.get(name), curs.get(name)
        if ref is None or cur is None:
            continue
        if ref.get("kind") == "categorical":
            out.append(categorical_counts(name, ref.get("counts") or {},
                                          cur.get("counts") or {}, config, cache,
                                          kind="output"))
        elif ref.get("kind") == "numeric" and cur.get("kind") == "numeric":
            out.append(numeric_profiles(name, ref, cur, config, cache, kind="output"))
    return out
