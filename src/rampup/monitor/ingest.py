"""Update a window aggregate from a batch of prediction records (vectorised per feature).

Pure: no store, no clock. The records are :class:`~rampup.predlog.writer.PredictionRecord`
objects (or anything with the same attributes), all of one window key.

>>> from rampup.predlog.writer import PredictionRecord
>>> from rampup.monitor.features import VersionInfo
>>> info = VersionInfo.from_parts({"features": [{"name": "x", "dtype": "float"}]},
...                               {"kind": "class", "classes": [0, 1]}, None)
>>> recs = [PredictionRecord(f"r{i}", f"r{i}", 0.0, "m", "v1", "answer", {"x": float(i)},
...                          {"prediction": i % 2}, 0.9, 2.0) for i in range(4)]
>>> agg = WindowAggregate()
>>> ingest(agg, recs, info)
>>> agg.requests, agg.features["x"].moments.mean, agg.output.classes.counts
(4, 1.5, {'0': 2, '1': 2})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from rampup.monitor.aggregates import CustomAgg, WindowAggregate
from rampup.monitor.features import FeatureAgg, VersionInfo, as_floats, metric_columns
from rampup.monitor.repeats import RepeatDetector, column_fingerprints, fingerprints

CustomFn = Callable[[Any], Any]
TIMEOUT = "timeout"
MODEL_ERROR = "model_error"


class RecordLike(Protocol):
    id: str
    request_id: str
    ts: float
    model: str
    version: str
    role: str
    stage: str | None
    inputs: Any
    outputs: Any
    confidence: float | None
    latency_ms: float
    error: str | None
    request_key: str | None


def first_of_request(r: RecordLike) -> bool:
    """One record per HTTP request counts it: ``rid``, ``rid-0``, their shadows, or their
    pipeline stage rows (``rid/1``, ``rid-0/1``)."""
    base = r.id.split("~", 1)[0].split("/", 1)[0]
    rid = r.request_id
    return base == rid or (len(base) == len(rid) + 2 and base.endswith("-0")
                           and base.startswith(rid))


def error_kind(error: str) -> str:
    return TIMEOUT if "timed out" in error else MODEL_ERROR


def input_length(value: Any) -> float:
    """Length of a text or list input; for an object, the summed lengths of its text and
    list fields."""
    if isinstance(value, str | list):
        return float(len(value))
    if isinstance(value, dict):
        return float(sum(len(v) for v in value.values() if isinstance(v, str | list)))
    return 0.0


def ingest(agg: WindowAggregate, records: Sequence[RecordLike], info: VersionInfo, *,
           custom: Mapping[str, CustomFn] | None = None,
           detector: RepeatDetector | None = None) -> None:
    """Add ``records`` (one window key) to ``agg``."""
    if not records:
        return
    agg.predictions += len(records)
    latencies = []
    for r in records:
        if first_of_request(r):
            agg.requests += 1
            latencies.append(r.latency_ms)
            if r.error is not None:
                kind = error_kind(r.error)
                agg.errors[kind] = agg.errors.get(kind, 0) + 1
    agg.latency.update_many(latencies)
    inputs = [r.inputs if isinstance(r.inputs, dict) else {} for r in records]
    columns = {f.name: [d.get(f.name) for d in inputs] for f in info.features
               if f.source is None}
    if len(columns) < len(info.features):  # input metrics of images, audio, text
        columns.update(metric_columns(inputs, info.features))
    floats: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for f in info.features:
        fa = agg.features.get(f.name)
        if fa is None:
            fa = agg.features[f.name] = FeatureAgg.new(f)
        if f.kind == "numeric":
            x = floats[f.name] = as_floats(columns[f.name])
            fa.update_floats(x)
        else:
            fa.update(columns[f.name], f)
    if info.has_text:  # the summed length of the text features
        text = [f.name for f in info.features if f.kind == "text"]
        agg.input_length.update_many(np.fromiter(
            (sum(len(v) for k in text if isinstance(v := d.get(k), str)) for d in inputs),
            dtype=np.float64, count=len(inputs)))
    elif info.free_form:
        agg.input_length.update_many(np.fromiter(
            (input_length(r.inputs) for r in records), dtype=np.float64, count=len(records)))
    if custom:
        _custom(agg, records, custom)
    ok = [r for r in records if r.error is None]
    if ok:
        agg.output.update([r.outputs for r in ok], [r.confidence for r in ok], info.output_kind)
        agg.early_stops += sum(1 for r in ok if type(r.outputs) is dict
                               and r.outputs.get("early_stop") is True)
    if detector is not None:
        _repeats(agg, records, info, detector, floats, columns)


def _repeats(agg: WindowAggregate, records: Sequence[RecordLike], info: VersionInfo,
             detector: RepeatDetector, floats: dict[str, np.ndarray[Any, Any]],
             columns: dict[str, list[Any]]) -> None:
    idx = [i for i, r in enumerate(records) if r.request_key is not None and r.role == "answer"]
    if not idx:
        return
    keyed = [records[i] for i in idx]
    if info.features:  # reuse the columns already extracted for the feature aggregates
        exact, near = column_fingerprints(
            [floats[n][idx] for n in floats],
            [[_hashable(columns[f.name][i]) for i in idx] for f in info.features
             if f.kind != "numeric"], len(idx))
    else:
        exact, near = fingerprints([r.inputs for r in keyed], (), ())
    for r, e, n in zip(keyed, exact, near, strict=True):
        assert r.request_key is not None
        repeated, same = detector.check_fingerprints(r.model, r.request_key, e, n, r.ts,
                                                     r.request_id)
        agg.keyed += 1
        agg.repeated += repeated
        agg.repeated_exact += same


def _hashable(v: Any) -> Any:
    return v if v is None or isinstance(v, str | int | float | bool) else repr(v)


def _custom(agg: WindowAggregate, records: Sequence[RecordLike],
            custom: Mapping[str, CustomFn]) -> None:
    for name, fn in custom.items():
        c = agg.custom.get(name)
        if c is None:
            c = agg.custom[name] = CustomAgg()
        values = []
        for r in records:
            try:
                v = float(fn(r.inputs))
            except Exception:  # a user's function must never break monitoring
                c.errors += 1
                continue
            if math.isfinite(v):
                values.append(v)
            else:
                c.errors += 1
        c.moments.update_many(np.asarray(values, dtype=np.float64))
