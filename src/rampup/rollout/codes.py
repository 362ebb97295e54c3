"""Class labels as small integers, so a window compares predictions with labels in NumPy.

A rollout window asks, for tens of thousands of rows at every tick, whether a prediction
equals its label as :func:`~rampup.rollout.agreement.canonical` strings (``1``, ``1.0`` and
``"1"`` are the same class). Comparing Python strings in an object array costs ~100 ns a
row; :class:`Codes` gives each canonical string an integer once, so the comparison is an
integer one, and remembers each distinct value's code and number
(:func:`~rampup.rollout.agreement.as_number`), so decoding a row is a dictionary lookup.

Codes are ``>= 0``; :data:`NONE` stands for no value. A table holds at most ``limit``
distinct strings (a regression model's outputs are all distinct): a value beyond that gets
:data:`SPILLED` and its string is returned beside the codes, to be kept by the caller and
compared as a string (:func:`equal`).

>>> codes = Codes()
>>> c, nums, spilled = codes.encode([1, 1.0, "1", True, None, "yes"])
>>> c.tolist(), nums.tolist()[:3], spilled
([0, 0, 0, 1, -1, 2], [1.0, 1.0, 1.0], {})
>>> codes.strings
['1', 'true', 'yes']
>>> Codes(limit=1).encode(["a", "b"])[0].tolist(), Codes(limit=1).encode(["a", "b"])[2]
([0, -2], {1: 'b'})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.rollout.agreement import as_number, canonical

#: no value (a missing label, a failed call's prediction)
NONE = -1
#: a value beyond the table's limit: compared by its string
SPILLED = -2
#: distinct canonical strings one table holds (with the values that map to them, at most
#: ~10 MB: a regression model's outputs spill after that)
MAX_CODES = 16_384
_NAN = float("nan")

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


class Codes:
    """One table of canonical strings and their codes (see the module doc)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_CODES if limit is None else limit
        self.strings: list[str] = []
        self._code: dict[str, int] = {}
        # (type, value) -> (code, number): 1 and True are equal keys in a dict, not here
        self._values: dict[tuple[type, Any], tuple[int, float]] = {}
        self._array: npt.NDArray[np.str_] = np.asarray([], dtype=np.str_)
        self.spilled = False  # whether any value got SPILLED

    def _new(self, value: Any) -> tuple[int, float, str]:
        s = canonical(value)
        code = self._code.get(s)
        if code is None:
            if len(self.strings) >= self.limit:
                code = SPILLED
                self.spilled = True
            else:
                code = self._code[s] = len(self.strings)
                self.strings.append(s)
        n = as_number(value)
        return code, _NAN if n is None else n, s

    def encode(self, values: Sequence[Any]) -> tuple[IntArray, FloatArray, dict[int, str]]:
        """Each value's code (:data:`NONE` for None) and number (NaN when it is not one),
        and the strings of the values that got :data:`SPILLED`, by position."""
        k = len(values)
        codes, nums = [NONE] * k, [_NAN] * k
        spilled: dict[int, str] = {}
        known = self._values
        for i, v in enumerate(values):
            if v is None:
                continue
            try:
                key = (v.__class__, v)
                got = known.get(key)
            except TypeError:  # unhashable (a list, a dict): its string every time
                key, got = None, None
            if got is None:
                code, num, s = self._new(v)
                if code == SPILLED:
                    spilled[i] = s
                elif key is not None and v == v and len(known) < 2 * self.limit:
                    known[key] = (code, num)  # (NaN never finds itself: not kept)
                codes[i], nums[i] = code, num
            else:
                codes[i], nums[i] = got
        return (np.fromiter(codes, dtype=np.int32, count=k),
                np.fromiter(nums, dtype=np.float64, count=k), spilled)

    def array(self) -> npt.NDArray[np.str_]:
        """The strings as a fixed-width array (``array()[codes]`` for codes >= 0)."""
        if len(self._array) != len(self.strings):
            self._array = np.asarray(self.strings, dtype=np.str_)
        return self._array

    def strings_of(self, codes: IntArray, spilled: npt.NDArray[np.object_]
                   ) -> list[str | None]:
        """The canonical strings of ``codes`` (``spilled`` holds those of SPILLED rows)."""
        table = self.strings
        return [table[c] if c >= 0 else (s if c == SPILLED else None)
                for c, s in zip(codes.tolist(), spilled.tolist(), strict=True)]


def equal(codes: Codes, a: IntArray, a_spilled: npt.NDArray[np.object_], b: IntArray,
          b_spilled: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Row by row, whether ``a`` and ``b`` are the same canonical string (two
    :data:`NONE` are equal: callers select rows that have both values)."""
    out: npt.NDArray[np.bool_] = a == b
    spill = (a == SPILLED) | (b == SPILLED)
    if spill.any():
        at = np.flatnonzero(spill)
        sa = codes.strings_of(a[at], a_spilled[at])
        sb = codes.strings_of(b[at], b_spilled[at])
        out[at] = [x == y for x, y in zip(sa, sb, strict=True)]
    return out


__all__ = ["MAX_CODES", "NONE", "SPILLED", "Codes", "equal"]
