"""Automatic slice discovery: where is the model significantly worse than overall?

Candidate slices are the values of each feature (numeric features cut into quantile
bins; a missing value is a slice of its own) and every pair of them from two different
features. All counts come from one indicator matrix ``A`` (examples x candidates):
support is ``A.sum(0)``, errors ``e @ A``, and for pairs ``A.T @ A`` and
``A[e].T @ A[e]`` — two matrix products, no loop over slices.

Each candidate with at least ``min_support`` examples is tested one-sided against the
rest of the data with Fisher's exact test (the hypergeometric tail: given the total
number of errors, how unlikely are this many inside the slice?). The p-values of all
tested candidates together go through the Benjamini-Hochberg procedure, so among the
reported slices the expected share of false discoveries is at most ``alpha``.

A pair is reported only if it is also significantly worse than the rest of *each* of its
two single-feature parents (the same exact test within the parent, the larger of the two
p-values, Benjamini-Hochberg over all pairs), so a weak slice ``city=x`` does not come
back once for every other feature it can be crossed with.

Findings are sorted by excess errors (errors beyond what the overall rate predicts for
their size) and convert to tags for :func:`rampup.analysis.errors.analyse_errors`.

>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"city": rng.choice(["a", "b", "c"], 3000), "age": rng.uniform(18, 80, 3000)})
>>> weak = (df.city == "c").to_numpy() & (df.age > 65).to_numpy()
>>> errors = rng.random(3000) < np.where(weak, 0.4, 0.05)
>>> found = discover_slices(df, errors)
>>> found.findings[0].name
'city=c & age>64.13'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rampup.analysis.report import Report
from rampup.errors import ValidationError

Arr = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Condition:
    """One feature's part of a slice: a value, a numeric bin ``(low, high]`` or missing."""

    feature: str
    value: Any = None
    low: float | None = None
    high: float | None = None
    missing: bool = False
    numeric: bool = False

    def __str__(self) -> str:
        if self.missing:
            return f"{self.feature} missing"
        if not self.numeric:
            return f"{self.feature}={self.value}"
        if self.low is None:
            return f"{self.feature}<={self.high:.4g}"
        if self.high is None:
            return f"{self.feature}>{self.low:.4g}"
        return f"{self.low:.4g}<{self.feature}<={self.high:.4g}"

    def mask(self, frame: pd.DataFrame) -> Arr:
        """Which rows of ``frame`` satisfy the condition (to apply it to new data)."""
        s = frame[self.feature]
        if self.missing:
            return np.asarray(s.isna().to_numpy(), dtype=bool)
        if not self.numeric:
            return np.asarray((s == self.value).fillna(False).to_numpy(dtype=bool), dtype=bool)
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        out: Arr = ~np.isnan(x)
        if self.low is not None:
            out &= x > self.low
        if self.high is not None:
            out &= x <= self.high
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"feature": self.feature}
        if self.missing:
            d["missing"] = True
        elif self.numeric:
            d.update(low=self.low, high=self.high)
        else:
            d["value"] = self.value.item() if isinstance(self.value, np.generic) else self.value
        return d


@dataclass(frozen=True)
class Finding:
    conditions: tuple[Condition, ...]
    n: int
    errors: int
    error_rate: float
    lift: float
    excess_errors: float
    p_value: float
    q_value: float

    @property
    def name(self) -> str:
        return " & ".join(str(c) for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"slice": self.name, "conditions": [c.to_dict() for c in self.conditions],
                "n": self.n, "errors": self.errors, "error_rate": self.error_rate,
                "lift": self.lift, "excess_errors": self.excess_errors,
                "p_value": self.p_value, "q_value": self.q_value}


@dataclass
class Discovery:
    n: int
    errors: int
    error_rate: float
    tested: int
    alpha: float
    findings: list[Finding]
    _masks: dict[str, Arr] = field(default_factory=dict, repr=False)

    def tags(self) -> dict[str, Arr]:
        """Finding name → boolean mask over the examples: input for the error analysis."""
        return {f.name: self._masks[f.name] for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "errors": self.errors, "error_rate": self.error_rate,
                "tested": self.tested, "alpha": self.alpha,
                "findings": [f.to_dict() for f in self.findings]}


def candidate_conditions(frame: pd.DataFrame, features: Sequence[str], *, n_bins: int = 4,
                         max_values: int = 20) -> tuple[list[Condition], Arr]:
    """Single-feature conditions and their n x m indicator matrix.

    Numeric features with more than ``n_bins`` distinct values are cut at their
    quantiles; others give one condition per value (the ``max_values`` most frequent).
    """
    conds: list[Condition] = []
    cols: list[Arr] = []
    for name in features:
        if name not in frame.columns:
            raise ValidationError(f"feature {name!r} is not in the data",
                                  fix=f"use one of: {', '.join(map(str, frame.columns))}")
        s = frame[name]
        missing = s.isna().to_numpy()
        numeric = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                   and s.nunique() > n_bins)
        if numeric:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, n_bins + 1)))
            inner = edges[1:-1]
            bins = np.searchsorted(inner, x, side="left")
            for b in range(len(inner) + 1):
                conds.append(Condition(name, low=float(inner[b - 1]) if b else None,
                                       high=float(inner[b]) if b < len(inner) else None,
                                       numeric=True))
                cols.append((bins == b) & ~missing)
        else:
            codes, uniques = pd.factorize(s)
            freq = np.bincount(codes[codes >= 0], minlength=len(uniques))
            for j in np.argsort(-freq, kind="stable")[:max_values]:
                conds.append(Condition(name, value=uniques[j]))
                cols.append(codes == j)
        if missing.any():
            conds.append(Condition(name, missing=True))
            cols.append(missing)
    a = np.column_stack(cols) if cols else np.zeros((len(frame), 0), dtype=bool)
    return conds, a


def _sf(k: Arr, population: Arr | int, successes: Arr | int, draws: Arr) -> Arr:
    """P(X >= k) for X hypergeometric: Fisher's exact test, one-sided (more errors)."""
    out: Arr = stats.hypergeom.sf(k - 1, population, successes, draws)
    return np.clip(out, 0.0, 1.0)


def discover_slices(frame: pd.DataFrame, errors: Arr, *, features: Sequence[str] | None = None,
                    n_bins: int = 4, max_values: int = 20, min_support: int = 30,
                    alpha: float = 0.05, pairs: bool = True) -> Discovery:
    """Slices (1 or 2 feature conditions) whose error rate is significantly above overall."""
    e = np.asarray(errors, dtype=bool)
    n = len(e)
    if len(frame) != n:
        raise ValidationError(f"{len(frame)} rows of features but {n} error flags",
                              fix="pass one error flag per row")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha = {alpha} must be between 0 and 1",
                              fix="use e.g. 0.05")
    feats = list(frame.columns) if features is None else list(features)
    conds, a = candidate_conditions(frame, feats, n_bins=n_bins, max_values=max_values)
    total = int(e.sum())
    rate = total / n if n else 0.0
    af = a.astype(np.float64)
    support = af.sum(axis=0)
    errs = e.astype(np.float64) @ af
    single = np.flatnonzero(support >= min_support)
    feature_of = np.array([feats.index(c.feature) for c in conds], dtype=np.int64)

    keys: list[tuple[int, ...]] = [(int(i),) for i in single]
    sup = list(support[single])
    err = list(errs[single])
    if pairs and len(conds) > 1:
        co = af.T @ af
        ae = af[e]
        co_err = ae.T @ ae
        ii, jj = np.triu_indices(len(conds), k=1)
        ok = (feature_of[ii] != feature_of[jj]) & (co[ii, jj] >= min_support)
        ii, jj = ii[ok], jj[ok]
        keys += [(int(i), int(j)) for i, j in zip(ii, jj, strict=True)]
        sup += list(co[ii, jj])
        err += list(co_err[ii, jj])
    sup_a, err_a = np.asarray(sup), np.asarray(err)
    if len(keys) == 0 or total == 0:
        return Discovery(n, total, rate, len(keys), alpha, [])
    p = _sf(err_a, n, total, sup_a)
    q = stats.false_discovery_control(p, method="bh")
    hit = (q <= alpha) & (err_a > sup_a * rate)
    n_single = len(single)
    if len(keys) > n_single:
        # a pair must also be worse than the rest of each single-feature parent, with the
        # same false-discovery control over all pairs
        pair_idx = np.array(keys[n_single:], dtype=np.int64)
        k, s_ = err_a[n_single:, None], sup_a[n_single:, None]
        within = _sf(k, support[pair_idx].astype(np.int64), errs[pair_idx].astype(np.int64), s_)
        q_within = stats.false_discovery_control(within.max(axis=1), method="bh")
        hit[n_single:] &= q_within <= alpha
    keep = np.flatnonzero(hit)
    findings: list[Finding] = []
    masks: dict[str, Arr] = {}
    for h in keep:
        key = keys[h]
        f = Finding(conditions=tuple(conds[i] for i in key), n=int(sup_a[h]),
                    errors=int(err_a[h]), error_rate=float(err_a[h] / sup_a[h]),
                    lift=float(err_a[h] / sup_a[h] / rate), excess_errors=float(
                        err_a[h] - sup_a[h] * rate), p_value=float(p[h]), q_value=float(q[h]))
        findings.append(f)
        masks[f.name] = np.asarray(a[:, key].all(axis=1), dtype=bool)
    findings.sort(key=lambda f: (-f.excess_errors, f.p_value, f.name))
    return Discovery(n, total, rate, len(keys), alpha, findings, masks)


def add_discovery_section(report: Report, d: Discovery) -> None:
    """Append the discovered slices to ``report`` (and their data to ``report.data``)."""
    section = report.section("Slices where the model is significantly worse")
    section.text(f"{d.tested} candidate slices tested (one or two feature values, numeric "
                 f"features in quantile bins); Benjamini-Hochberg false discovery rate "
                 f"{d.alpha:g}; overall error rate {100 * d.error_rate:.2f}%.")
    if not d.findings:
        section.text("No slice is significantly worse than overall.")
    else:
        section.table(["slice", "n", "errors", "error rate %", "lift", "excess errors",
                       "q-value"],
                      [[f.name, f.n, f.errors, 100 * f.error_rate, f.lift, f.excess_errors,
                        f.q_value] for f in d.findings])
    report.data["discovery"] = d.to_dict()
