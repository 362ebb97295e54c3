"""Per-feature input aggregates, binned like the version's reference profile.

What the monitor knows about a version (:class:`VersionInfo`) comes from its registry
record: the input schema, the output spec and the reference profile. Each feature is
aggregated by kind: ``numeric`` (moments and a histogram on the reference bins, or on
the fixed :data:`~rampup.monitor.stats.LOG_EDGES` when there is no profile),
``categorical`` (top counts, unseen values against the reference) or ``text`` (lengths).

>>> info = VersionInfo.from_parts({"features": [{"name": "x", "dtype": "float"},
...                                              {"name": "c", "dtype": "str",
...                                               "categories": ["a", "b"]}]}, {}, None)
>>> [(f.name, f.kind) for f in info.features]
[('x', 'numeric'), ('c', 'categorical')]
>>> agg = FeatureAgg.new(info.features[1])
>>> agg.update(["a", "z", None, "a"], info.features[1])
>>> agg.count, agg.missing, agg.unseen, agg.cats.counts
(3, 1, 1, {'a': 2, 'z': 1})
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rampup.monitor.stats import LOG_EDGES, OTHER, Histogram, Moments, TopCounts
from rampup.registry.schema import MEDIA_DTYPES

CATEGORY_CAPACITY = 64
_F64 = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    dtype: str
    kind: str  # numeric | categorical | text
    edges: tuple[float, ...] | None = None  # reference bin edges (with ±inf)
    known: frozenset[str] | None = None  # categories seen in the reference / declared
    # an input metric of an unstructured feature (``photo.brightness``): (feature, its
    # dtype, metric), and the reference vocabulary of a text feature
    source: tuple[str, str, str] | None = None
    vocabulary: frozenset[str] | None = None


@dataclass(frozen=True)
class VersionInfo:
    """The parts of a version the monitor needs, derived once per version."""

    features: tuple[FeatureInfo, ...]
    free_form: bool
    output_kind: str  # class | number | free
    classes: tuple[str, ...] | None
    has_text: bool
    output_task: str | None = None  # transcription | ranking | detection (rampup.tasks)
    embedding: str | None = None  # the output field holding an embedding (drift.embedding)
    label_free: bool = False  # a label-free estimator fitted at registration (concept.estimated_*)

    @classmethod
    def from_parts(cls, input_schema: dict[str, Any], output: dict[str, Any],
                   profile: dict[str, Any] | None) -> VersionInfo:
        feats = []
        pf = (profile or {}).get("features") or {}
        for f in input_schema.get("features", []):
            if f.get("dtype") in MEDIA_DTYPES:
                feats.extend(_metric_infos(f, pf))
                continue
            feats.append(_feature_info(f, pf.get(f["name"])))
        classes = output.get("classes")
        return cls(tuple(feats), free_form=not feats and bool(input_schema.get("allow_extra")),
                   output_kind=str(output.get("kind", "free")),
                   classes=tuple(str(c) for c in classes) if classes else None,
                   has_text=any(f.kind == "text" for f in feats),
                   output_task=output.get("task"), embedding=output.get("embedding")
                   or ((profile or {}).get("embedding") or {}).get("function"),
                   label_free=bool((profile or {}).get("label_free")))

    @classmethod
    def free(cls) -> VersionInfo:
        return cls((), free_form=True, output_kind="free", classes=None, has_text=False)


def _metric_infos(f: dict[str, Any], pf: dict[str, Any]) -> list[FeatureInfo]:
    """The input metrics of an unstructured feature as numeric features (none for a
    tensor), binned like their reference profiles."""
    from rampup.inputs.metrics import METRICS_BY_DTYPE

    name, dtype = str(f["name"]), str(f["dtype"])
    vocab = (pf.get(name) or {}).get("vocabulary")
    out = []
    for m in METRICS_BY_DTYPE.get(dtype, ()):
        prof = pf.get(f"{name}.{m}")
        edges = tuple(float(e) for e in prof["bins"]) if prof and prof.get("bins") else None
        out.append(FeatureInfo(f"{name}.{m}", "float", "numeric", edges, None,
                               (name, dtype, m),
                               frozenset(vocab) if vocab is not None else None))
    return out


def metric_columns(inputs: list[dict[str, Any]], infos: tuple[FeatureInfo, ...],
                   ) -> dict[str, list[Any]]:
    """Values of the input-metric features, computing each input's metrics once."""
    from rampup.inputs.metrics import value_metrics

    out: dict[str, list[Any]] = {}
    cache: dict[str, list[dict[str, float] | None]] = {}
    for f in infos:
        if f.source is None:
            continue
        parent, dtype, metric = f.source
        if parent not in cache:
            cache[parent] = [value_metrics(dtype, d.get(parent), f.vocabulary)
                             for d in inputs]
        out[f.name] = [None if m is None else m.get(metric) for m in cache[parent]]
    return out


def _feature_info(f: dict[str, Any], prof: dict[str, Any] | None) -> FeatureInfo:
    dtype = str(f.get("dtype", "float"))
    cats = f.get("categories")
    if prof is not None and prof.get("kind") in ("numeric", "categorical", "text"):
        kind = str(prof["kind"])
    elif dtype == "bool" or cats is not None:
        kind = "categorical"
    elif dtype in ("float", "int"):
        kind = "numeric"
    else:
        kind = "text"
    edges = None
    if kind == "numeric" and prof is not None and prof.get("bins"):
        edges = tuple(float(e) for e in prof["bins"])
    known: frozenset[str] | None = None
    if kind == "categorical":
        if dtype == "bool":
            known = frozenset({"True", "False"})
        elif prof is not None and isinstance(prof.get("counts"), dict) and \
                OTHER not in prof["counts"]:
            known = frozenset(str(k) for k in prof["counts"])
        elif cats is not None:
            known = frozenset(str(c) for c in cats)
    return FeatureInfo(str(f["name"]), dtype, kind, edges, known)


def as_floats(values: list[Any]) -> _F64:
    """Values as float64 with NaN for missing or non-numeric ones (bools count as 0/1)."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            try:
                out[i] = float(v) if v is not None else math.nan
            except (TypeError, ValueError):
                out[i] = math.nan
        return out


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


class FeatureAgg:
    """One feature over one window. ``count`` is non-missing values."""

    __slots__ = ("cats", "count", "dtype", "hist", "kind", "missing", "moments", "unseen")

    def __init__(self, kind: str, dtype: str) -> None:
        self.kind = kind
        self.dtype = dtype
        self.count = 0
        self.missing = 0
        self.moments = Moments()  # numeric: values; text: lengths
        self.hist: Histogram | None = None
        self.cats: TopCounts | None = None
        self.unseen = 0

    @classmethod
    def new(cls, info: FeatureInfo) -> FeatureAgg:
        agg = cls(info.kind, info.dtype)
        if info.kind == "numeric":
            agg.hist = Histogram(list(info.edges) if info.edges else LOG_EDGES)
        elif info.kind == "categorical":
            agg.cats = TopCounts(CATEGORY_CAPACITY)
        return agg

    def update_floats(self, x: _F64) -> None:
        """A numeric feature's values as floats, NaN where missing."""
        nan = np.isnan(x)
        n_nan = int(nan.sum())
        self.missing += n_nan
        self.count += len(x) - n_nan
        present = x[~nan] if n_nan else x
        self.moments.update_many(present[np.isfinite(present)])
        if self.hist is not None:
            self.hist.update_many(present)

    def update(self, values: list[Any], info: FeatureInfo) -> None:
        if self.kind == "numeric":
            self.update_floats(as_floats(values))
            return
        present = [v for v in values if not _is_missing(v)]
        self.missing += len(values) - len(present)
        self.count += len(present)
        if self.kind == "categorical":
            texts = [str(v) for v in present]
            assert self.cats is not None
            self.cats.update_many(texts)
            if info.known is not None:
                known = info.known
                self.unseen += sum(1 for t in texts if t not in known)
        else:
            self.moments.update_many(np.fromiter((len(str(v)) for v in present),
                                                 dtype=np.float64, count=len(present)))

    def merge(self, other: FeatureAgg) -> FeatureAgg:
        self.count += other.count
        self.missing += other.missing
        self.unseen += other.unseen
        self.moments.merge(other.moments)
        if self.hist is not None:
            if other.hist is None or not self.hist.compatible(other.hist):
                self.hist = None  # versions with different reference bins: not comparable
            else:
                self.hist.merge(other.hist)
        if self.cats is not None and other.cats is not None:
            self.cats.merge(other.cats)
        return self

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "type": self.dtype, "count": self.count,
                             "missing": self.missing, "moments": self.moments.to_dict()}
        if self.hist is not None:
            d["hist"] = self.hist.to_dict()
        if self.cats is not None:
            d["cats"] = self.cats.to_dict()
            d["unseen"] = self.unseen
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureAgg:
        agg = cls(str(d["kind"]), str(d["type"]))
        agg.count, agg.missing = int(d["count"]), int(d["missing"])
        agg.moments = Moments.from_dict(d["moments"])
        if d.get("hist") is not None:
            agg.hist = Histogram.from_dict(d["hist"])
        if d.get("cats") is not None:
            agg.cats = TopCounts.from_dict(d["cats"])
            agg.unseen = int(d.get("unseen", 0))
        return agg

    def profile(self) -> dict[str, Any]:
        """This window in the shape of a reference profile's feature entry."""
        n = self.count + self.missing
        out: dict[str, Any] = {"type": self.dtype, "kind": self.kind, "count": self.count,
                               "missing_fraction": self.missing / n if n else 0.0}
        if self.kind == "numeric":
            h = self.hist
            out.update(self.moments.summary())
            out["quantiles"] = None
            out["bins"] = h.to_dict()["edges"] if h is not None else None
            out["counts"] = h.counts.tolist() if h is not None else None
        elif self.kind == "categorical":
            c = self.cats or TopCounts()
            counts = dict(sorted(c.counts.items(), key=lambda kv: -kv[1]))
            if c.other:
                counts[OTHER] = c.other
            out.update({"distinct": len(c.counts) + (1 if c.other else 0), "counts": counts,
                        "frequencies": c.frequencies(), "unseen": self.unseen,
                        "unseen_fraction": self.unseen / self.count if self.count else 0.0})
        else:
            out["distinct"] = None
            out["length"] = {**self.moments.summary(), "quantiles": None}
        return out
