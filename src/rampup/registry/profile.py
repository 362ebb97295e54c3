"""Reference profiles and schema inference from a table of training data.

A profile is a JSON document stored with the version; drift detection later compares
live windows against it. Per feature it holds ``type`` (the schema dtype), ``kind``
(``numeric``, ``categorical`` or ``text``), ``count`` (non-missing values) and
``missing_fraction``, and by kind:

* numeric: ``mean``, ``std`` (population, ddof=0), ``min``, ``max``, ``quantiles``
  (101 points, 0%..100%, linear interpolation), ``bins`` (edges at the reference's
  20-quantiles, or deciles under 1000 values, taken as data values (inverted CDF) and
  deduplicated; outer edges ``"-inf"``/``"inf"`` as strings because JSON has no
  infinities) and ``counts`` per bin, where bin ``i`` holds ``edges[i] <= v < edges[i+1]``
  — use :func:`bin_edges` and :func:`bin_counts`;
* categorical (bool, or str with allowed categories): ``distinct``, ``counts`` and
  ``frequencies`` of the 1,000 most common values (``TOP_VALUES``) plus ``__other__``;
* text: ``distinct`` and a ``length`` summary (mean, std, min, max, quantiles).

Everything is vectorised; a million rows by twenty columns takes a few seconds.

>>> df = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None], "y": [0, 1, 0, 1]})
>>> schema = infer_schema(df, exclude=["y"])
>>> [(f.name, f.dtype, f.nullable, f.categories) for f in schema.features]
[('x', 'float', True, None), ('c', 'str', True, ('a', 'b'))]
>>> p = compute_profile(df, schema, label_column="y")
>>> p["features"]["x"]["missing_fraction"], p["features"]["c"]["frequencies"]
(0.25, {'a': 0.6666666666666666, 'b': 0.3333333333333333})
>>> p["label"]["frequencies"]
{'0': 0.5, '1': 0.5}
>>> p["features"]["x"]["bins"], p["features"]["x"]["counts"]
(['-inf', 1.0, 2.0, 4.0, 'inf'], [0, 1, 1, 1])
>>> bin_counts([0.5, 10.0], p["features"]["x"]).tolist()
[1, 0, 0, 1]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from rampup.errors import NotFoundError, ValidationError
from rampup.registry.artifacts import hash_path
from rampup.registry.schema import MEDIA_DTYPES, DType, Feature, InputSchema

PROFILE_FORMAT = 1
MAX_CATEGORIES = 50
#: categories a profile names (the rest are lumped into ``__other__``): generous, because
#: a value the reference profile does not name cannot be recognised as unseen later.
TOP_VALUES = 1000
OTHER = "__other__"
QUANTILE_POINTS = np.linspace(0.0, 1.0, 101)
_TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame: a path, or an fsspec URL
    (``s3://bucket/data.parquet``; credentials as for artifacts, e.g. ``AWS_*``)."""
    if isinstance(path, str) and "://" in path and not path.startswith("file://"):
        return _read_remote(path)
    p = Path(path[len("file://"):] if isinstance(path, str) and "://" in path else path)
    kind = _TABLE_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise ValidationError(f"cannot read {p.name}: unsupported file type {p.suffix!r}",
                              fix="use a .csv, .tsv or .parquet file")
    if not p.is_file():
        raise NotFoundError(f"data file {p} does not exist", fix="check the path")
    try:
        if kind == "parquet":
            return _read_parquet(p)
        return pd.read_csv(p, sep="\t" if kind == "tsv" else ",")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValidationError(f"cannot read {p}: {exc}",
                              fix=f"check that the file is valid {kind}") from None


def _read_remote(url: str) -> pd.DataFrame:
    """A table from an object store, read through fsspec (imported only for URLs)."""
    suffix = PurePosixPath(url.split("?", 1)[0]).suffix.lower()
    kind = _TABLE_SUFFIXES.get(suffix)
    if kind is None:
        raise ValidationError(f"cannot read {url}: unsupported file type {suffix!r}",
                              fix="use a .csv, .tsv or .parquet file")
    from rampup.registry.objectstore import filesystem  # fsspec: only for URLs

    fs, path = filesystem(url, {}, "data file")
    try:
        with fs.open(path, "rb") as f:
            if kind == "parquet":
                return pd.read_parquet(f)
            return pd.read_csv(f, sep="\t" if kind == "tsv" else ",")
    except FileNotFoundError:
        raise NotFoundError(f"data file {url} does not exist", fix="check the URL") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValidationError(f"cannot read {url}: {exc}",
                              fix=f"check that the file is valid {kind} and the store's "
                                  "credentials (AWS_* variables)") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame. Numeric and boolean columns without nulls go
    straight from Arrow into NumPy (one buffer each, no pandas metadata pass); a file
    with anything else (strings, nulls, dates, a stored index) takes ``pd.read_parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.pandas_metadata or {}
    stored_index = any(isinstance(c, str) for c in meta.get("index_columns") or [])
    simple = not stored_index and all(
        (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
         or pa.types.is_boolean(f.type)) and table.column(f.name).null_count == 0
        for f in table.schema)
    if not simple or len(set(table.column_names)) != len(table.column_names):
        return pd.read_parquet(path)  # pandas' own mapping of every other type
    return pd.DataFrame({name: table.column(name).to_numpy()
                         for name in table.column_names}, copy=False)


_INFERRED: dict[str, DType] = {"boolean": "bool", "integer": "int", "floating": "float",
                               "mixed-integer-float": "float", "decimal": "float"}


def _infer_dtype(s: pd.Series) -> DType:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "int"
    if pd.api.types.is_float_dtype(s.dtype):
        return "float"
    kind = pd.api.types.infer_dtype(s, skipna=True)
    return _INFERRED.get(kind, "str")


def infer_feature(name: str, s: pd.Series) -> Feature:
    """One feature from a column: type from the dtype, nullable if anything is missing,
    categories for text columns with at most 50 distinct values."""
    dtype = _infer_dtype(s)
    nullable = bool(s.isna().any())
    categories = None
    if dtype == "str":
        values = s.dropna().astype(str).unique()
        if len(values) <= MAX_CATEGORIES:
            categories = tuple(sorted(values.tolist()))
    return Feature(str(name), dtype, nullable=nullable, categories=categories)


def infer_schema(df: pd.DataFrame, exclude: Sequence[str] = ()) -> InputSchema:
    """An input schema from a DataFrame's columns, skipping ``exclude`` (e.g. the label)."""
    skip = set(exclude)
    return InputSchema([infer_feature(str(c), df[c]) for c in df.columns if c not in skip])


def _numeric_summary(x: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Summary of the finite values (NaNs already dropped)."""
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "quantiles": None}
    q = np.quantile(x, QUANTILE_POINTS)
    return {"mean": float(x.mean()), "std": float(x.std()), "min": float(q[0]),
            "max": float(q[-1]), "quantiles": q.tolist()}


def _numeric(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    out = _numeric_summary(values)
    if out["quantiles"] is None:
        return {**out, "bins": None, "counts": None}
    finite = values[np.isfinite(values)]
    step = 5 if len(finite) >= 1000 else 10
    # Edges are data values (inverted-CDF quantiles), so discrete columns get one bin per
    # value rather than empty bins between them.
    ranks = np.ceil(np.arange(step, 100, step) / 100 * len(finite)).astype(np.int64) - 1
    inner = np.unique(np.partition(finite, ranks)[ranks])
    edges: list[Any] = ["-inf", *inner.tolist(), "inf"]
    counts = np.bincount(np.searchsorted(inner, values, side="right"),
                         minlength=len(inner) + 1)
    return {**out, "bins": edges, "counts": counts.tolist()}


def _categorical(s: pd.Series) -> dict[str, Any]:
    vc = s.astype(str).value_counts(sort=True)
    total = int(vc.sum())
    top = vc.iloc[:TOP_VALUES]
    counts = {str(k): int(v) for k, v in top.items()}
    other = total - sum(counts.values())
    if other:
        counts[OTHER] = other
    freqs = {k: v / total for k, v in counts.items()} if total else {}
    return {"distinct": len(vc), "counts": counts, "frequencies": freqs}


def _text(s: pd.Series) -> dict[str, Any]:
    text = s.astype(str)
    lengths = text.str.len().to_numpy(dtype=np.float64)
    return {"distinct": int(text.nunique()), "length": _numeric_summary(lengths)}


def _as_float(s: pd.Series) -> np.ndarray[Any, Any]:
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan))


def profile_column(s: pd.Series, feature: Feature) -> dict[str, Any]:
    """The profile of one column, as described in the module docstring."""
    n = len(s)
    present = s.dropna()
    base: dict[str, Any] = {"type": feature.dtype, "count": len(present),
                            "missing_fraction": (n - len(present)) / n if n else 0.0}
    if feature.dtype == "bool" or feature.categories is not None:
        return {**base, "kind": "categorical", **_categorical(present)}
    if feature.dtype in ("float", "int"):
        values = _as_float(present)
        values = values[~np.isnan(values)]
        return {**base, "kind": "numeric", **_numeric(values)}
    return {**base, "kind": "text", **_text(present)}


def metric_frame(s: pd.Series, feature: Feature,
                 vocabulary: Sequence[str] | None = None) -> pd.DataFrame:
    """The input metrics of an unstructured column, one float column ``name.metric`` each
    (NaN where the value is missing); text OOV rates against ``vocabulary``."""
    from rampup.inputs.metrics import METRICS_BY_DTYPE, value_metrics

    vocab = frozenset(vocabulary) if vocabulary is not None else None
    rows = [value_metrics(feature.dtype, v, vocab) if not _is_na(v) else None
            for v in s.tolist()]
    return pd.DataFrame({f"{feature.name}.{m}": np.array(
        [np.nan if r is None else r.get(m, np.nan) for r in rows], dtype=np.float64)
        for m in METRICS_BY_DTYPE.get(feature.dtype, ())}, index=s.index)


def _is_na(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def media_profiles(s: pd.Series, feature: Feature,
                   vocabulary: Sequence[str] | None = None) -> dict[str, Any]:
    """Profiles of an unstructured feature: the feature itself (count, missing share, and
    for text the reference vocabulary) and one numeric profile per input metric,
    ``name.metric`` (see :mod:`rampup.inputs.metrics`). Values are decoded inputs, their
    logged summaries, texts or embeddings. ``vocabulary``: the reference vocabulary (a
    window's OOV rate is against it); by default the column's own."""
    from rampup.inputs.metrics import reference_vocabulary

    n = len(s)
    present = s[[not _is_na(v) for v in s.tolist()]]
    own: dict[str, Any] = {"type": feature.dtype, "kind": "media", "count": len(present),
                           "missing_fraction": (n - len(present)) / n if n else 0.0}
    metrics = None
    if feature.dtype == "text" and vocabulary is None:
        own["vocabulary"] = reference_vocabulary(present.tolist())
        metrics = metric_frame(s, feature, own["vocabulary"])
        # The reference's OOV rates cross-fitted (each half against the other half's
        # vocabulary): against its own vocabulary the reference would have none, and
        # ordinary traffic, with its share of rare words, would look drifted.
        halves = [s.iloc[0::2], s.iloc[1::2]]
        for part, other in (halves, halves[::-1]):
            vocab = reference_vocabulary([v for v in other.tolist() if not _is_na(v)])
            metrics.loc[part.index, f"{feature.name}.oov_rate"] = \
                metric_frame(part, feature, vocab)[f"{feature.name}.oov_rate"]
    out = {feature.name: own}
    if metrics is None:
        metrics = metric_frame(s, feature, vocabulary)
    for name, col in metrics.items():
        values = col.to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        prof = _numeric(values)
        if prof["bins"] is not None and len(prof["bins"]) == 3:
            # a point mass (no OOV, no clipping ...): split off the values above it, or a
            # shift upwards would fall into the same bin as the mass itself
            v = float(prof["bins"][1])
            inner = np.array([v, np.nextafter(v, np.inf)])
            prof["bins"] = ["-inf", *inner.tolist(), "inf"]
            prof["counts"] = np.bincount(np.searchsorted(inner, values, side="right"),
                                         minlength=3).tolist()
        out[str(name)] = {"type": "float", "kind": "numeric", "count": len(values),
                          "missing_fraction": (n - len(values)) / n if n else 0.0, **prof}
    return out


def frame_hash(df: pd.DataFrame) -> str:
    """A content hash of a DataFrame (column names, dtypes and values)."""
    h = hashlib.sha256()
    h.update("\0".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items()).encode())
    try:
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): fall back to their text
        h.update(df.to_csv(index=False).encode())
    return "sha256:" + h.hexdigest()


def _label_feature(name: str, col: pd.Series) -> Feature:
    """Labels with few distinct values are classes (even 0.0/1.0 floats); else numbers."""
    feature = infer_feature(name, col)
    if feature.dtype == "str" or col.nunique(dropna=True) > MAX_CATEGORIES:
        return feature
    if feature.dtype == "float":
        values = _as_float(col.dropna())
        if not np.all(np.mod(values[np.isfinite(values)], 1) == 0):
            return feature
    return Feature(name, feature.dtype, categories=())  # profiled as class frequencies


def compute_profile(df: pd.DataFrame, schema: InputSchema, label_column: str | None = None,
                    *, data_hash: str | None = None,
                    vocabularies: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """A JSON-able reference profile of ``df`` for the schema's features (and the label).

    ``data_hash`` defaults to :func:`frame_hash`; pass the file's hash when read from disk.
    ``vocabularies``: the reference vocabulary of text features (when profiling a window).
    """
    missing = [n for n in schema.names if n not in df.columns]
    if missing:
        raise ValidationError(f"the reference data has no column(s) {missing}",
                              fix="add them to the data or correct the feature names")
    features: dict[str, Any] = {}
    for f in schema.features:
        if f.dtype in MEDIA_DTYPES:
            features.update(media_profiles(df[f.name], f,
                                           (vocabularies or {}).get(f.name)))
        else:
            features[f.name] = profile_column(df[f.name], f)
    label = None
    if label_column is not None:
        if label_column not in df.columns:
            raise ValidationError(f"label column {label_column!r} is not in the reference data",
                                  fix=f"use one of: {', '.join(map(str, df.columns))}")
        col = df[label_column]
        label = {"name": label_column, **profile_column(col, _label_feature(label_column, col))}
    return {"format": PROFILE_FORMAT, "rows": len(df),
            "data_hash": data_hash or frame_hash(df), "features": features, "label": label}


def profile_from_path(path: str | Path, schema: InputSchema | None = None,
                      label_column: str | None = None) -> dict[str, Any]:
    """Read a CSV/Parquet file and profile it (schema inferred when not given)."""
    df = read_table(path)
    if schema is None:
        schema = infer_schema(df, exclude=[label_column] if label_column else [])
    return compute_profile(df, schema, label_column, data_hash=hash_path(Path(path)))


def bin_edges(feature_profile: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The bin edges of a numeric feature profile as floats (with ±inf)."""
    return np.array([float(e) for e in feature_profile["bins"]], dtype=np.float64)


def bin_counts(values: Sequence[float] | np.ndarray[Any, Any],
               feature_profile: dict[str, Any]) -> np.ndarray[Any, Any]:
    """Count new values in a numeric feature profile's reference bins (NaNs skipped)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    inner = bin_edges(feature_profile)[1:-1]
    return np.bincount(np.searchsorted(inner, x, side="right"), minlength=len(inner) + 1)
