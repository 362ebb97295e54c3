"""A column of input values, seen through the types the realtime validator knows.

Every row of a :class:`TypedColumn` carries a code — null, float, int, bool, str or
other — and the value in the array for its code. Columns come from pandas (numpy,
nullable, Arrow-backed or object dtypes) or straight from Arrow. CSV columns arrive as
text and are parsed with :func:`parse_text` into the feature's type first, so a stray
word in a numeric column becomes that row's problem, not a crash.

Conventions: in a plain numpy float column NaN means missing (pandas' convention); in
Arrow-backed, nullable and object columns null and NaN stay distinct, and NaN is a
value the validator rejects, as realtime does.

>>> c = from_series(pd.Series([1.5, None, "x", True], dtype=object))
>>> c.code.tolist() == [FLOAT, NULL, STR, BOOL]
True
>>> t = parse_text(from_arrow(pa.array([" 2", "nan", "two", None])), "float")
>>> t.code.tolist() == [FLOAT, FLOAT, STR, NULL], t.f[:2].tolist()
(True, [2.0, nan])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL, FLOAT, INT, BOOL, STR, OTHER = 0, 1, 2, 3, 4, 5
_FLOAT_INT = int(np.finfo(np.float64).max)  # the largest int a float64 holds

Arr = np.ndarray[Any, Any]

_TYPE_CODE: dict[type, int] = {
    type(None): NULL, float: FLOAT, int: INT, bool: BOOL, str: STR,
    np.float64: FLOAT, np.float32: FLOAT, np.float16: FLOAT,
    np.int64: INT, np.int32: INT, np.int16: INT, np.int8: INT,
    np.uint64: INT, np.uint32: INT, np.uint16: INT, np.uint8: INT,
    np.bool_: BOOL, np.str_: STR, type(pd.NA): NULL,
}
# A number literal as arrow's float parser reads it (checked before casting, so one bad
# value in a column does not make the whole column fail to parse).
_NUMBER_RE = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|infinity|nan))$"
_TRUE = pa.array(["true", "1"])
_FALSE = pa.array(["false", "0"])


@dataclass
class TypedColumn:
    """``code[i]`` says which array holds row ``i``'s value; ``raw(i)`` is the value as given."""

    code: Arr  # int8 per row
    f: Arr  # float64: rows coded FLOAT or INT
    i: Arr  # int64: rows coded INT
    b: Arr  # bool: rows coded BOOL
    raw: Callable[[int], Any]
    arrow: pa.Array | None = None  # the source, when it was an arrow string array
    _s: Arr | None = None  # object: the str of rows coded STR, None elsewhere

    @property
    def n(self) -> int:
        return len(self.code)

    def strings(self) -> Arr:
        """The str values of rows coded STR (None elsewhere), built on first use."""
        if self._s is None:
            if self.arrow is not None:
                self._s = self.arrow.to_numpy(zero_copy_only=False)
                self._s[self.code != STR] = None
            else:
                self._s = np.full(self.n, None, object)
        return self._s


def _empty(n: int, raw: Callable[[int], Any]) -> TypedColumn:
    return TypedColumn(np.full(n, OTHER, np.int8), np.zeros(n), np.zeros(n, np.int64),
                       np.zeros(n, bool), raw)


def missing(n: int) -> TypedColumn:
    """A column absent from the input: every row null."""
    col = _empty(n, lambda i: None)
    col.code[:] = NULL
    return col


def from_series(s: pd.Series) -> TypedColumn:
    """A pandas column of any dtype."""
    dtype = s.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return from_arrow(pa.array(s.array))
    if isinstance(dtype, np.dtype):
        values = s.to_numpy()
        if dtype.kind == "f":
            return _from_float(values.astype(np.float64), nan_is_null=True)
        if dtype.kind in "iu":
            return _from_int(values)
        if dtype.kind == "b":
            return _from_bool(values.astype(bool), np.zeros(len(values), bool))
        if dtype.kind == "O":
            return from_objects(values)
        return from_objects(s.astype(object).to_numpy())
    try:  # pandas extension dtypes: nullable ints/floats/bools, str, categorical
        arr = pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return from_objects(s.astype(object).to_numpy())
    return from_arrow(arr)


def from_arrow(arr: pa.Array | pa.ChunkedArray) -> TypedColumn:
    """An Arrow column (Parquet and CSV chunks stay Arrow until here)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_dictionary(t):
        return from_arrow(arr.dictionary_decode())
    null = arr.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        col = _from_float(arr.cast(pa.float64()).fill_null(0.0).to_numpy(), nan_is_null=False)
    elif pa.types.is_integer(t):
        try:
            ints = arr.cast(pa.int64()).fill_null(0).to_numpy()
        except pa.ArrowInvalid:  # uint64 beyond int64
            return from_objects(np.array(arr.to_pylist(), dtype=object))
        col = _from_int(ints)
    elif pa.types.is_boolean(t):
        col = _from_bool(arr.fill_null(False).to_numpy(zero_copy_only=False), null)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        col = _empty(len(arr), lambda i: arr[i].as_py())
        col.code[:] = STR
        col.arrow = arr
    elif pa.types.is_null(t):
        col = missing(len(arr))
    else:  # timestamps, lists, structs, binary: kept as what they are (wrong for any feature)
        return from_objects(np.array(arr.to_pylist(), dtype=object))
    col.code[null] = NULL
    return col


def _from_float(values: Arr, *, nan_is_null: bool) -> TypedColumn:
    col = _empty(len(values), values.__getitem__)
    col.code[:] = FLOAT
    col.f = values
    if nan_is_null:
        col.code[np.isnan(values)] = NULL
    return col


def _from_int(values: Arr) -> TypedColumn:
    col = _empty(len(values), values.__getitem__)
    col.code[:] = INT
    col.i = values.astype(np.int64)
    col.f = values.astype(np.float64)
    return col


def _from_bool(values: Arr, null: Arr) -> TypedColumn:
    col = _empty(len(values), values.__getitem__)
    col.code[:] = BOOL
    col.b = values
    col.code[null] = NULL
    return col


def from_objects(values: Arr) -> TypedColumn:
    """Python objects, e.g. records parsed from JSON: classified by exact type."""
    n = len(values)
    col = _empty(n, values.__getitem__)
    kind = pd.api.types.infer_dtype(values, skipna=False) if n else "empty"
    if kind == "string":
        col.code[:] = STR
    elif kind == "floating":
        col.code[:] = FLOAT
    elif kind == "integer":
        col.code[:] = INT
    elif kind == "boolean":
        col.code[:] = BOOL
    else:  # mixed: one dictionary lookup per value classifies it
        col.code = np.fromiter((_TYPE_CODE.get(type(v), OTHER) for v in values), np.int8, n)
    num = (col.code == FLOAT) | (col.code == INT)
    if num.any():
        try:
            col.f[num] = values[num].astype(np.float64)
        except OverflowError:  # an int past float64's range (10**400): named, not raised
            huge = np.fromiter((type(v) is int and not -_FLOAT_INT <= v <= _FLOAT_INT
                                for v in values), bool, n)
            col.code[huge] = OTHER
            num &= ~huge
            col.f[num] = values[num].astype(np.float64)
    ints = col.code == INT
    if ints.any():
        try:
            col.i[ints] = values[ints].astype(np.int64)
        except OverflowError:  # Python ints beyond 64 bits: numbers, but not integers
            big = np.fromiter((type(v) is int and not -2**63 <= v < 2**63 for v in values),
                              bool, n)
            col.code[big & ints] = FLOAT  # their float value is in col.f already
            ints &= ~big
            col.i[ints] = values[ints].astype(np.int64)
    bools = col.code == BOOL
    if bools.any():
        col.b[bools] = values[bools].astype(bool)
    strs = col.code == STR
    col._s = np.full(n, None, dtype=object)
    col._s[strs] = values[strs]
    return col


def _text_array(col: TypedColumn) -> pa.Array:
    if col.arrow is not None:
        return col.arrow
    return pa.array(col.strings(), type=pa.string())


def parse_text(col: TypedColumn, dtype: str) -> TypedColumn:
    """Read the text values of ``col`` (CSV) as ``dtype``; unreadable ones stay STR.

    Numbers are trimmed and read like JSON numbers plus ``nan``/``inf`` (which the
    validator then rejects as non-finite); booleans are ``true``/``false``/``1``/``0``
    in any case. Text for ``str`` features is taken as it is.
    """
    text = col.code == STR
    if dtype == "str" or not text.any():
        return col
    trimmed = pc.utf8_trim_whitespace(_text_array(col))
    out = TypedColumn(col.code.copy(), col.f.copy(), col.i.copy(), col.b.copy(), col.raw,
                      col.arrow, col._s)
    if dtype == "bool":
        low = pc.utf8_lower(trimmed)
        is_true = pc.is_in(low, value_set=_TRUE).to_numpy(zero_copy_only=False) & text
        is_false = pc.is_in(low, value_set=_FALSE).to_numpy(zero_copy_only=False) & text
        out.code[is_true | is_false] = BOOL
        out.b = np.where(is_true, True, out.b)
        return out
    try:
        floats = pc.cast(trimmed, pa.float64())
        ok = text
    except pa.ArrowInvalid:  # some values are not numbers: parse only those that are
        match = pc.match_substring_regex(trimmed, _NUMBER_RE)
        trimmed = pc.if_else(match, trimmed, pa.scalar(None, pa.string()))
        floats = pc.cast(trimmed, pa.float64())
        ok = text & match.fill_null(False).to_numpy(zero_copy_only=False)
    out.f = np.where(ok, floats.fill_null(0.0).to_numpy(), out.f)
    out.code[ok] = FLOAT
    if dtype == "int":
        try:  # exact for integers beyond 2**53, which floats cannot hold
            ints = pc.cast(pc.if_else(pa.array(ok), trimmed, pa.scalar(None, pa.string())),
                           pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return out  # some have a fraction or exponent; the float check decides
        exact = ok & ints.is_valid().to_numpy(zero_copy_only=False)
        out.i = np.where(exact, ints.fill_null(0).to_numpy(), out.i)
        out.code[exact] = INT
    return out
