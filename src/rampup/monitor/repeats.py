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
from typing import Any

import orjson

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
        exact = hash(_dump(inputs))
        near = hash(_dump(normalise(inputs)))
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
