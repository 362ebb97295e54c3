"""Automatic slice discovery: where is the model significantly worse than overall?

Candidate slices are the values of each feature (numeric features cut into quantile
bins; a missing value is a slice of its own) and every pair of them from two different
features. Each feature is coded once (one condition index per row), so the counts of
every slice are ``np.bincount`` of those codes (weighted by the error flags for the
errors), and those of every pair one ``bincount`` of combined codes per pair of
features: no loop over rows or slices, memory linear in the rows.

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
their size) and convert to tags for :func:`rampup.analysis.error_analysis.analyse_errors`.

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


@dataclass(frozen=True)
class Candidates:
    """Single-feature conditions; ``codes[i, f]`` is the index (into ``conditions``) of
    the condition row ``i`` meets on feature ``f``, or -1 (a value outside the
    ``max_values`` most frequent)."""

    conditions: list[Condition]
    codes: Arr
    feature_of: Arr  # per condition: its feature's column in ``codes``

    def mask(self, j: int) -> Arr:
        out: Arr = self.codes[:, self.feature_of[j]] == j
        return out


def candidate_conditions(frame: pd.DataFrame, features: Sequence[str], *, n_bins: int = 4,
                         max_values: int = 20) -> Candidates:
    """Single-feature conditions: each feature is a partition of the rows.

    Numeric features with more than ``n_bins`` distinct values are cut at their
    quantiles; others give one condition per value (the ``max_values`` most frequent).
    A missing value is a condition of its own.
    """
    conds: list[Condition] = []
    codes = np.full((len(frame), len(features)), -1, dtype=np.int64)
    feature_of: list[int] = []
    for f, name in enumerate(features):
        if name not in frame.columns:
            raise ValidationError(f"feature {name!r} is not in the data",
                                  fix=f"use one of: {', '.join(map(str, frame.columns))}")
        s = frame[name]
        missing = s.isna().to_numpy()
        base = len(conds)
        numeric = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                   and s.nunique() > n_bins)
        if numeric:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, n_bins + 1)))
            inner = edges[1:-1]
            conds += [Condition(name, low=float(inner[b - 1]) if b else None,
                                high=float(inner[b]) if b < len(inner) else None, numeric=True)
                      for b in range(len(inner) + 1)]
            codes[:, f] = base + np.searchsorted(inner, x, side="left")
        else:
            value_codes, uniques = pd.factorize(s)
            freq = np.bincount(value_codes[value_codes >= 0], minlength=len(uniques))
            top = np.argsort(-freq, kind="stable")[:max_values]
            lut = np.full(len(uniques) + 1, -1, dtype=np.int64)  # last: NaN's -1 code
            lut[top] = base + np.arange(len(top))
            conds += [Condition(name, value=uniques[j]) for j in top]
            codes[:, f] = lut[value_codes]
        if missing.any():
            codes[missing, f] = len(conds)
            conds.append(Condition(name, missing=True))
        feature_of += [f] * (len(conds) - base)
    return Candidates(conds, codes, np.array(feature_of, dtype=np.int64))


def _sf(k: Arr, population: Arr | int, successes: Arr | int, draws: Arr) -> Arr:
    """P(X >= k) for X hypergeometric: Fisher's exact test, one-sided (more errors)."""
    out: Arr = stats.hypergeom.sf(k - 1, population, successes, draws)
    return np.clip(out, 0.0, 1.0)


def _pair_counts(cand: Candidates, e: Arr, min_support: int,
                 ) -> tuple[list[tuple[int, int]], Arr, Arr]:
    """Every pair of conditions on two different features with enough support: one
    ``bincount`` per pair of features."""
    m = len(cand.conditions)
    keys: list[tuple[int, int]] = []
    sup: list[Arr] = []
    err: list[Arr] = []
    n_feat = cand.codes.shape[1]
    for f in range(n_feat):
        for g in range(f + 1, n_feat):
            a, b = cand.codes[:, f], cand.codes[:, g]
            ok = (a >= 0) & (b >= 0)
            cell = a[ok] * m + b[ok]
            s_ = np.bincount(cell, minlength=m * m)
            found = np.flatnonzero(s_ >= min_support)
            if len(found):
                keys += [(int(c // m), int(c % m)) for c in found]
                sup.append(s_[found])
                err.append(np.bincount(cell, weights=e[ok], minlength=m * m)[found])
    if not keys:
        return keys, np.zeros(0), np.zeros(0)
    return keys, np.concatenate(sup).astype(np.float64), np.concatenate(err)


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
    cand = candidate_conditions(frame, feats, n_bins=n_bins, max_values=max_values)
    conds, m = cand.conditions, len(cand.conditions)
    total = int(e.sum())
    rate = total / n if n else 0.0
    support = np.zeros(m)
    errs = np.zeros(m)
    for f in range(len(feats)):
        c = cand.codes[:, f]
        ok = c >= 0
        support += np.bincount(c[ok], minlength=m)
        errs += np.bincount(c[ok], weights=e[ok], minlength=m)
    single = np.flatnonzero(support >= min_support)
    keys: list[tuple[int, ...]] = [(int(i),) for i in single]
    sup_a, err_a = support[single], errs[single]
    if pairs:
        pair_keys, pair_sup, pair_err = _pair_counts(cand, e.astype(np.float64), min_support)
        keys += pair_keys
        sup_a = np.concatenate([sup_a, pair_sup])
        err_a = np.concatenate([err_a, pair_err])
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
    findings: list[Finding] = []
    masks: dict[str, Arr] = {}
    for h in np.flatnonzero(hit):
        key = keys[h]
        found = Finding(conditions=tuple(conds[i] for i in key), n=int(sup_a[h]),
                        errors=int(err_a[h]), error_rate=float(err_a[h] / sup_a[h]),
                        lift=float(err_a[h] / sup_a[h] / rate),
                        excess_errors=float(err_a[h] - sup_a[h] * rate),
                        p_value=float(p[h]), q_value=float(q[h]))
        findings.append(found)
        mask = cand.mask(key[0])
        for j in key[1:]:
            mask = mask & cand.mask(j)
        masks[found.name] = mask
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
