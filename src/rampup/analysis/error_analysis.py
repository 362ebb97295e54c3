"""Tag-based error analysis: the spreadsheet teams build by hand, as a function.

Examples carry tags (``accent``, ``noisy``, ``region=north`` ...), which may overlap.
For each tag the table gives:

- ``data_share``: share of all examples with the tag;
- ``error_share``: share of all errors that have the tag;
- ``error_rate``: error rate within the tag;
- ``baseline_error_rate``: the baseline's error rate on the tag (human-level
  performance, an older version or a trivial model; see :mod:`rampup.analysis.baselines`);
- ``gap`` = error rate - baseline error rate (how far behind the baseline);
- ``potential`` = max(gap, 0) x data share: how much the *overall* error rate would
  drop if the model reached the baseline on this tag. A tag where the model already
  beats the baseline has nothing to gain from reaching it (0). Without a baseline for a
  tag the baseline is taken as 0 errors, so potential = error rate x data share (the
  drop if the tag were solved outright).

Task errors (WER, 1 - AP@k, missed objects) are amounts with a weight per example
(``weights``: reference words, queries, objects): rates are then ``sum(amount) /
sum(weight)`` within the tag — the tag's corpus WER — and ``data_share`` is the tag's
share of the weight, so potential stays the drop of the overall rate.

Rows are sorted by potential (then by error share): what to work on next. Each row
suggests an action (:class:`ActionRules`, thresholds adjustable), checked in order:

1. ``relabel`` — annotators agree on the tag's labels less than ``min_agreement``:
   the labels are the problem; clarify the instructions and relabel first;
2. ``none`` — the gap is at most ``gap_tolerance`` (at or better than the baseline);
3. ``collect more data`` — behind the baseline and the tag is rare (``data_share <
   small_share``) with few examples (``n < min_examples``): there is too little to learn
   from, or even to judge;
4. ``augment`` — behind the baseline and rare, but with enough examples to synthesise or
   up-weight more like them;
5. ``improve the model`` — behind the baseline although the tag is well represented:
   look at its errors for missing features or model capacity.

>>> errors = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
>>> tags = {"noisy": np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)}
>>> a = analyse_errors(errors, tags, baseline_rates={"noisy": 0.2})
>>> row = a.rows[0]
>>> row.error_share, round(row.error_rate, 3), row.data_share, round(row.potential, 3)
(0.6666666666666666, 0.667, 0.3, 0.14)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rampup.analysis.report import Report
from rampup.errors import ValidationError

Arr = np.ndarray[Any, Any]
Tags = Mapping[str, Arr]
"""Tag name → boolean mask over the examples (tags may overlap)."""

RELABEL, NONE, COLLECT, AUGMENT, IMPROVE = (
    "relabel", "none", "collect more data", "augment", "improve the model")


@dataclass(frozen=True)
class ActionRules:
    """Thresholds behind the suggested action of each tag (see the module docstring)."""

    min_agreement: float = 0.8
    gap_tolerance: float = 0.01
    small_share: float = 0.05
    min_examples: int = 100


@dataclass(frozen=True)
class TagRow:
    tag: str
    n: int
    errors: int | float
    data_share: float
    error_share: float
    error_rate: float
    baseline_error_rate: float | None
    gap: float | None
    potential: float
    agreement: float | None
    action: str


@dataclass
class ErrorAnalysis:
    """The tag table plus the overall numbers it is relative to."""

    n: int
    errors: int | float
    error_rate: float
    baseline_name: str | None
    baseline_error_rate: float | None
    rows: list[TagRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "errors": self.errors, "error_rate": self.error_rate,
                "baseline": self.baseline_name,
                "baseline_error_rate": self.baseline_error_rate,
                "tags": [{k: _finite(v) if isinstance(v, float) else v
                          for k, v in asdict(r).items()} for r in self.rows]}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows])


def errors_of(y_true: Sequence[Any] | Arr, y_pred: Sequence[Any] | Arr, *,
              tolerance: float | None = None) -> Arr:
    """Which examples are errors: a wrong class, or (``tolerance`` given, regression) an
    absolute error above it.

    >>> errors_of([1, 0, 1], [1, 1, 1]).tolist()
    [False, True, False]
    >>> errors_of([1.0, 2.0], [1.2, 3.0], tolerance=0.5).tolist()
    [False, True]
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if len(t) != len(p):
        raise ValidationError(f"{len(t)} labels but {len(p)} predictions",
                              fix="pass one prediction per label")
    if tolerance is not None:
        out: Arr = np.abs(t.astype(np.float64) - p.astype(np.float64)) > tolerance
        return out
    return np.asarray(pd.Series(t, dtype=object).to_numpy() != pd.Series(p, dtype=object)
                      .to_numpy(), dtype=bool)


def tag_matrix(tags: Tags, n: int) -> tuple[list[str], Arr]:
    """Tag names and the n x k boolean matrix of their masks (checked for length)."""
    names = list(tags)
    for name in names:
        if len(tags[name]) != n:
            raise ValidationError(f"tag {name!r} has {len(tags[name])} values for {n} examples",
                                  fix="give every tag one boolean per example")
    if not names:
        return names, np.zeros((n, 0), dtype=bool)
    return names, np.column_stack([np.asarray(tags[k], dtype=bool) for k in names])


def tags_from_columns(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, Arr]:
    """Tags from columns: a boolean (or 0/1) column is one tag named after it; any other
    column gives one tag per value, ``column=value`` (missing values give no tag).

    >>> df = pd.DataFrame({"noisy": [True, False], "accent": ["uk", None]})
    >>> {k: v.tolist() for k, v in tags_from_columns(df, ["noisy", "accent"]).items()}
    {'noisy': [True, False], 'accent=uk': [True, False]}
    """
    out: dict[str, Arr] = {}
    for col in columns:
        if col not in frame.columns:
            raise ValidationError(f"tag column {col!r} is not in the data",
                                  fix=f"use one of: {', '.join(map(str, frame.columns))}")
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or (
                pd.api.types.is_numeric_dtype(s) and set(s.dropna().unique()) <= {0, 1}
                and s.notna().all()):
            out[col] = s.fillna(False).to_numpy(dtype=bool)
            continue
        codes, uniques = pd.factorize(s, sort=True)
        for j, value in enumerate(uniques):
            out[f"{col}={value}"] = codes == j
    return out


def tags_from_mapping(ids: Sequence[Any] | Arr, mapping: Mapping[Any, Iterable[str]],
                      ) -> dict[str, Arr]:
    """Tags from an ``id → [tag, ...]`` mapping (ids compared as text, so ``7`` in the
    data matches ``"7"`` read from a file).

    >>> tags = tags_from_mapping([1, 2, 3], {"1": ["a"], 3: ["a", "b"]})
    >>> {k: v.tolist() for k, v in tags.items()}
    {'a': [True, False, True], 'b': [False, False, True]}
    """
    index = pd.Index([str(i) for i in ids])
    out: dict[str, Arr] = {}
    for key, tags in mapping.items():
        rows = np.flatnonzero(index == str(key))
        for tag in tags:
            mask = out.setdefault(str(tag), np.zeros(len(index), dtype=bool))
            mask[rows] = True
    return out


def read_tag_file(path: str | Path) -> dict[str, list[str]]:
    """Read ``id → tags`` from JSON/YAML (a mapping to a list) or CSV (``id,tag`` rows,
    or ``id,tags`` with tags separated by ``;``)."""
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"tag file {p} does not exist", fix="check the path")
    if p.suffix.lower() in (".json", ".yaml", ".yml"):
        text = p.read_text()
        raw = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        if not isinstance(raw, dict):
            raise ValidationError(f"tag file {p} must map example ids to lists of tags",
                                  fix='write {"id1": ["tag", ...], ...}')
        return {str(k): [v] if isinstance(v, str) else [str(t) for t in (v or [])]
                for k, v in raw.items()}
    out: dict[str, list[str]] = {}
    with p.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise ValidationError(f"tag file {p} needs two columns: id and tag",
                                  fix="write a header 'id,tag' and one row per id and tag")
        for row in reader:
            if len(row) >= 2 and row[0].strip():
                tags = [t.strip() for t in row[1].split(";") if t.strip()]
                out.setdefault(row[0].strip(), []).extend(tags)
    return out


def _action(gap: float, agreement: float | None, n: int, share: float,
            rules: ActionRules) -> str:
    if agreement is not None and agreement < rules.min_agreement:
        return RELABEL
    if gap <= rules.gap_tolerance:
        return NONE
    if share < rules.small_share:
        return COLLECT if n < rules.min_examples else AUGMENT
    return IMPROVE


def analyse_errors(errors: Arr, tags: Tags, *, baseline_errors: Arr | None = None,
                   baseline_rates: Mapping[str, float] | None = None,
                   baseline_name: str | None = None,
                   agreement: Mapping[str, float] | None = None,
                   rules: ActionRules | None = None,
                   weights: Arr | None = None) -> ErrorAnalysis:
    """The tag table for a boolean ``errors`` vector.

    The baseline comes from ``baseline_errors`` (the baseline's own errors on the same
    examples, e.g. an older version's predictions) or ``baseline_rates`` (tag → error
    rate, with ``"overall"``, e.g. human-level performance); the first wins where both
    are given. ``agreement`` maps a tag to the annotators' agreement on it (0..1).
    ``weights``: ``errors`` (and ``baseline_errors``) are amounts of error per example,
    each example weighing this much (see the module docstring).

    >>> a = analyse_errors(np.array([2.0, 0.0, 1.0]), {"car noise": np.array([1, 1, 0])},
    ...                    weights=np.array([4.0, 4.0, 2.0]))
    >>> a.error_rate, a.rows[0].error_rate, a.rows[0].data_share
    (0.3, 0.25, 0.8)
    """
    rules = rules or ActionRules()
    weighted = weights is not None
    e = np.asarray(errors, dtype=np.float64 if weighted else bool)
    n = len(e)
    w = np.asarray(weights, dtype=np.float64) if weighted else np.ones(n)
    if len(w) != n:
        raise ValidationError(f"{len(w)} weights for {n} examples",
                              fix="give one weight per example")
    names, t = tag_matrix(tags, n)
    n_tag = t.sum(axis=0)
    w_tag = w @ t
    err_tag = e.astype(np.float64 if weighted else np.int64) @ t
    total_w = float(w.sum())
    total_err = float(e.sum()) if weighted else int(e.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(w_tag > 0, err_tag / np.maximum(w_tag, 1e-300), np.nan)
    base: list[float | None] = [None] * len(names)
    overall_base: float | None = None
    if baseline_rates is not None:
        base = [_finite(baseline_rates.get(k)) for k in names]
        overall_base = _finite(baseline_rates.get("overall"))
    if baseline_errors is not None:
        be = np.asarray(baseline_errors, dtype=np.float64 if weighted else bool)
        if len(be) != n:
            raise ValidationError(f"baseline has {len(be)} values for {n} examples",
                                  fix="give the baseline's result on the same examples")
        b_err = be.astype(np.float64) @ t
        base = [float(b_err[j] / w_tag[j]) if w_tag[j] else None for j in range(len(names))]
        overall_base = float(be.astype(np.float64).sum() / total_w) if total_w else None
    rows = []
    for j, name in enumerate(names):
        share = float(w_tag[j] / total_w) if total_w else 0.0
        r = float(rate[j])
        b = base[j]
        gap = None if b is None or np.isnan(r) else r - b
        effective_gap = gap if gap is not None else (0.0 if np.isnan(r) else r)
        agree = _finite(agreement.get(name)) if agreement is not None else None
        rows.append(TagRow(
            tag=name, n=int(n_tag[j]),
            errors=float(err_tag[j]) if weighted else int(err_tag[j]), data_share=share,
            error_share=float(err_tag[j] / total_err) if total_err else 0.0,
            error_rate=r, baseline_error_rate=base[j], gap=gap,
            potential=max(effective_gap, 0.0) * share, agreement=agree,
            action=_action(effective_gap, agree, int(n_tag[j]), share, rules)))
    rows.sort(key=lambda row: (-row.potential, -row.error_share, row.tag))
    return ErrorAnalysis(n=n, errors=total_err,
                         error_rate=total_err / total_w if total_w else float("nan"),
                         baseline_name=baseline_name, baseline_error_rate=overall_base,
                         rows=rows)


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _pct(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else 100 * x


def error_report(a: ErrorAnalysis, *, title: str = "Error analysis by tag",
                 meta: Mapping[str, Any] | None = None) -> Report:
    """The table as a :class:`~rampup.analysis.report.Report` (percentages, and points
    of overall error rate for gap and potential); ``report.data`` holds ``to_dict()``."""
    report = Report(title, meta=dict(meta or {}), data={"error_analysis": a.to_dict()})
    overall = report.section("Overall").items([
        ("examples", a.n), ("errors", a.errors), ("error rate %", _pct(a.error_rate))])
    if a.baseline_name is not None or a.baseline_error_rate is not None:
        overall.items([("baseline", a.baseline_name or "given"),
                       ("baseline error rate %", _pct(a.baseline_error_rate))])
    rows = [[r.tag, r.n, _pct(r.data_share), _pct(r.error_share), _pct(r.error_rate),
             _pct(r.baseline_error_rate), _pct(r.gap), _pct(r.potential), r.action]
            for r in a.rows]
    report.section("Tags, most to gain first").table(
        ["tag", "n", "data %", "errors %", "error rate %", "baseline %", "gap (pts)",
         "potential (pts)", "action"], rows,
        note="potential = max(gap, 0) x share of data: how many points the overall error "
             "rate drops if the model reaches the baseline on the tag")
    if not a.rows:
        report.warnings.append("no tags given: pass tag columns or a tag file")
    return report
