"""Repeated-query detection: the same request key sending the same or a near-identical
input again within ``horizon_s`` seconds.

Per (model, key) the detector remembers the fingerprints of the last few inputs: an
exact one (the canonical JSON of the input) and a near one (strings lower-cased with
whitespace collapsed, numbers rounded to 3 significant digits). Memory is bounded: at
most ``max_keys`` keys (least recently seen dropped first) and ``per_key`` inputs each.

>>> d = RepeatDetector(horizon_s=60)
>>> d.check("m", "user-1", {"q": "Weather in Paris"}, ts=0.0, request_id="a")
(False, False)
>>> d.check("m", "user-1", {"q": "weather  in paris "}, ts=10.0, request_id="b")
(True, False)
>>> d.check("m", "user-1", {"q": "weather  in paris "}, ts=20.0, request_id="c")
(True, True)
>>> d.check("m", "user-1", {"q": "weather  in paris "}, ts=200.0, request_id="d")
(False, False)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from rampup.monitor.features import as_floats

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_OPTS)
    except TypeError:
        return orjson.dumps(value, default=str, option=_OPTS)


def normalise(value: Any) -> Any:
    """The near-duplicate form of an input.

    >>> normalise({"q": "  Hello   World ", "x": 1234.5678, "n": [0.000123456]})
    {'q': 'hello world', 'x': 1230.0, 'n': [0.000123]}
    """
    if isinstance(value, str):
        return " ".join(value.lower().split())
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        v = float(value)
        if v == 0.0 or not math.isfinite(v):
            return v
        return round(v, 2 - math.floor(math.log10(abs(v))))
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return str(value)


def _round_significant(m: np.ndarray[Any, np.dtype[np.float64]]
                       ) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Round to 3 significant digits, elementwise (NaN and infinities unchanged)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        a = np.abs(m)
        scale = 10.0 ** (2 - np.floor(np.log10(np.where(a > 0, a, 1.0))))
        rounded = np.round(m * scale) / scale
    return np.where(np.isfinite(m), rounded, m)


def fingerprints(inputs: Sequence[Any], numeric: Sequence[str], other: Sequence[str]
                 ) -> tuple[list[int], list[int]]:
    """Exact and near fingerprints of many inputs at once.

    With a schema (``numeric``/``other`` feature names, inputs being objects), the near
    form rounds the numeric features in one vectorised step; otherwise each input is
    normalised on its own (:func:`normalise`). Either way equal to hashing
    :func:`normalise`'s result for the purpose of comparing two inputs of one model.

    >>> e, n = fingerprints([{"x": 1234.5, "c": "A"}, {"x": 1234.0, "c": "a "}], ["x"], ["c"])
    >>> e[0] == e[1], n[0] == n[1]
    (False, True)
    """
    if not (numeric or other) or not all(isinstance(x, dict) for x in inputs):
        return ([hash(_dump(x)) for x in inputs],
                [hash(_dump(normalise(x))) for x in inputs])
    return column_fingerprints([as_floats([x.get(f) for x in inputs]) for f in numeric],
                               [[x.get(f) for x in inputs] for f in other], len(inputs))


def column_fingerprints(numeric: Sequence[np.ndarray[Any, np.dtype[np.float64]]],
                        other: Sequence[Sequence[Any]], n: int) -> tuple[list[int], list[int]]:
    """Exact and near fingerprints of ``n`` inputs given as feature columns: numeric ones
    (floats, NaN where missing; rounded to 3 significant digits at once for the near
    form) and the others (normalised for the near form)."""
    if numeric:
        raw = np.column_stack(numeric)
        rounded = _round_significant(raw)
        exact_rows = [raw[i].tobytes() for i in range(n)]
        near_rows = [rounded[i].tobytes() for i in range(n)]
    else:
        exact_rows = near_rows = [b""] * n
    if not other:
        return [hash(r) for r in exact_rows], [hash(r) for r in near_rows]
    texts = list(zip(*other, strict=True))
    norm = list(zip(*([normalise(v) for v in col] for col in other), strict=True))
    return ([hash((exact_rows[i], texts[i])) for i in range(n)],
            [hash((near_rows[i], norm[i])) for i in range(n)])


class RepeatDetector:
    def __init__(self, horizon_s: float = 60.0, max_keys: int = 10_000,
                 per_key: int = 4) -> None:
        self.horizon_s = horizon_s
        self.max_keys = max_keys
        self.per_key = per_key
        # (model, key) -> recent inputs as (ts, exact hash, near hash, request id)
        self._recent: OrderedDict[tuple[str, str], list[tuple[float, int, int, str]]] = (
            OrderedDict())

    def __len__(self) -> int:
        return len(self._recent)

    def check(self, model: str, key: str, inputs: Any, ts: float,
              request_id: str) -> tuple[bool, bool]:
        """Record this input; return (repeated, exactly repeated)."""
        return self.check_fingerprints(model, key, hash(_dump(inputs)),
                                       hash(_dump(normalise(inputs))), ts, request_id)

    def check_fingerprints(self, model: str, key: str, exact: int, near: int, ts: float,
                           request_id: str) -> tuple[bool, bool]:
        """:meth:`check` with the fingerprints already computed (see :func:`fingerprints`)."""
        k = (model, key)
        recent = self._recent.get(k)
        repeated = repeated_exact = False
        if recent is None:
            recent = []
            self._recent[k] = recent
            if len(self._recent) > self.max_keys:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(k)
            oldest = ts - self.horizon_s
            for t, e, n, rid in recent:
                if t < oldest or rid == request_id:
                    continue
                if e == exact:
                    repeated = repeated_exact = True
                    break
                if n == near:
                    repeated = True
        recent.append((ts, exact, near, request_id))
        if len(recent) > self.per_key:
            del recent[0]
        return repeated, repeated_exact
