"""Vectorised validation of a chunk of a batch file against a version's input schema.

The rules are those of the realtime :class:`~rampup.serving.validation.Validator`
(float/int/bool/str, nullable, no NaN or infinity, integral floats accepted as ints,
0/1 accepted as booleans, strict categories, min/max length), applied per column with
numpy and Arrow rather than per cell. Differences that come from files, not rules:
columns the schema does not name are ignored (see :func:`extra_columns`), a column
missing from the file makes every row miss that feature, and CSV text is read into the
feature's type first (``text=True``; an empty CSV cell is a missing value).

Rows are numbered as the user sees them: 1-based data rows of the file (header
excluded), passed in ``rows``.

>>> from rampup.registry.schema import Feature, InputSchema
>>> schema = InputSchema([Feature("age", "int"), Feature("city", "str", nullable=True)])
>>> frame = pd.DataFrame({"age": ["30", "x", "41.0"], "city": ["oslo", None, None]})
>>> result = validate_frame(frame, schema, text=True)
>>> result.batch.columns
{'age': [30, 41], 'city': ['oslo', None]}
>>> result.problems
[(2, 'age', "must be an integer, got string 'x'")]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rampup.batch.columns import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    STR,
    Arr,
    TypedColumn,
    from_series,
    missing,
    parse_text,
)
from rampup.registry.predictor import FeatureBatch
from rampup.registry.schema import MEDIA_DTYPES, Feature, InputSchema

Problem = tuple[int, str, str]
"""(row number, field, reason)."""

_INT64_LIMIT = 2.0**63


@dataclass(frozen=True)
class FrameValidation:
    """``batch``: the good rows in order; ``problems``: every problem of the bad rows,
    by row then by feature order; ``good``: which rows of the frame are in ``batch``."""

    batch: FeatureBatch
    problems: list[Problem]
    good: Arr

    @property
    def bad_rows(self) -> int:
        return int(len(self.good) - self.good.sum())


def describe(v: Any) -> str:
    """How a value is named in a message (as the realtime validator names JSON values).

    >>> describe(None), describe(True), describe(float("inf")), describe("a" * 50)[-8:]
    ('null', 'boolean true', 'Infinity', "aaaa...'")
    """
    if v is None:
        return "null"
    if isinstance(v, bool | np.bool_):
        return f"boolean {str(bool(v)).lower()}"
    if isinstance(v, float | np.floating) and not math.isfinite(v):
        return _nonfinite(float(v))
    if type(v) is int and not -(2**63) <= v < 2**63:
        if v.bit_length() >= 4000:  # str() refuses ints past 4,300 digits
            shown = f"of about {int(v.bit_length() * 0.30103):,} digits"
        else:
            digits = str(abs(v))
            shown = digits if len(digits) <= 25 else f"{digits[:12]}...({len(digits)} digits)"
        return f"the integer {'-' if v < 0 else ''}{shown}, outside the 64-bit range"
    if isinstance(v, int | float | np.integer | np.floating):
        return f"number {v.item() if isinstance(v, np.generic) else v!r}"
    if isinstance(v, str):
        short = v if len(v) <= 40 else v[:37] + "..."
        return f"string {short!r}"
    if isinstance(v, list | tuple | np.ndarray):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _nonfinite(v: float) -> str:
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def extra_columns(columns: Iterable[str], schema: InputSchema,
                  ignore: Sequence[str] = ()) -> list[str]:
    """Columns of a file that are not features (nor ``ignore``d, like the key column)."""
    known = set(schema.names) | set(ignore)
    return [c for c in columns if c not in known]


# -- per-dtype checks: (ok mask, clean values, why(row) for rows neither ok nor null) ----

Checked = tuple[Arr, Arr, Callable[[int], str]]


def _check_float(f: Feature, c: TypedColumn) -> Checked:
    num = (c.code == FLOAT) | (c.code == INT)
    ok = num & np.isfinite(c.f)

    def why(i: int) -> str:
        if c.code[i] == FLOAT:
            return f"is {_nonfinite(float(c.f[i]))}, which is not allowed"
        return f"must be a number, got {describe(c.raw(i))}"
    return ok, c.f, why


def _check_int(f: Feature, c: TypedColumn) -> Checked:
    floats = c.code == FLOAT
    with np.errstate(invalid="ignore"):
        integral = floats & np.isfinite(c.f) & (np.floor(c.f) == c.f) & (
            np.abs(c.f) < _INT64_LIMIT)
    ok = (c.code == INT) | integral
    values = np.where(c.code == INT, c.i, np.where(integral, c.f, 0.0).astype(np.int64))
    return ok, values, lambda i: f"must be an integer, got {describe(c.raw(i))}"


def _check_bool(f: Feature, c: TypedColumn) -> Checked:
    ints = c.code == INT
    ok = (c.code == BOOL) | (ints & ((c.i == 0) | (c.i == 1)))
    values = np.where(c.code == BOOL, c.b, c.i == 1)
    return ok, values, lambda i: f"must be true or false, got {describe(c.raw(i))}"


def _check_str(f: Feature, c: TypedColumn) -> Checked:
    is_str = c.code == STR
    ok = is_str.copy()
    text: pa.Array | None = None
    if is_str.any() and ((f.strict_categories and f.categories is not None)
                         or f.min_length is not None or f.max_length is not None):
        text = c.arrow if c.arrow is not None else pa.array(c.strings(), type=pa.string())
    in_cats: Arr | None = None
    lengths: Arr | None = None
    if text is not None and f.strict_categories and f.categories is not None:
        in_cats = pc.is_in(text, value_set=pa.array(list(f.categories), pa.string())
                           ).fill_null(False).to_numpy(zero_copy_only=False)
        ok &= in_cats
    if text is not None and (f.min_length is not None or f.max_length is not None):
        lengths = pc.utf8_length(text).fill_null(0).to_numpy(zero_copy_only=False)
        if f.min_length is not None:
            ok &= lengths >= f.min_length
        if f.max_length is not None:
            ok &= lengths <= f.max_length
    shown = ", ".join(repr(x) for x in list(f.categories or ())[:20])

    def why(i: int) -> str:
        if not is_str[i]:
            return f"must be a string, got {describe(c.raw(i))}"
        if in_cats is not None and not in_cats[i]:
            return f"has value {c.raw(i)!r}, which is not an allowed category (use one of: {shown})"
        n = int(lengths[i]) if lengths is not None else 0
        if f.min_length is not None and n < f.min_length:
            return f"is {n} characters long, shorter than {f.min_length}"
        return f"is {n} characters long, longer than {f.max_length}"
    return ok, c.strings(), why


_CHECKS: dict[str, Callable[[Feature, TypedColumn], Checked]] = {
    "float": _check_float, "int": _check_int, "bool": _check_bool, "str": _check_str}


def _check_media(f: Feature, c: TypedColumn, base_dir: Path | None) -> Checked:
    """Image/audio cells name files (relative to ``base_dir``, the manifest's folder);
    text, tensor and embedding cells hold the value (JSON for arrays)."""
    from rampup.inputs.files import decode_column

    values, problems = decode_column([c.raw(i) for i in range(c.n)], f, base_dir)
    ok = np.array([p is None for p in problems], dtype=bool)
    out = np.empty(c.n, dtype=object)
    out[:] = values

    def why(i: int) -> str:
        return problems[i] or "is not valid"
    return ok, out, why


def validate_frame(frame: pd.DataFrame, schema: InputSchema, *,
                   rows: Sequence[int] | Arr | None = None, text: bool = False,
                   base_dir: Path | None = None) -> FrameValidation:
    """Check every row of ``frame``; see the module docstring for the rules.

    ``rows``: the file row number of each frame row (default 1..n). ``text``: the
    values are text to read as the features' types (CSV). ``base_dir``: where relative
    file paths of image and audio columns start (the manifest's folder).
    """
    n = len(frame)
    numbers = np.arange(1, n + 1) if rows is None else np.asarray(rows, dtype=np.int64)
    if schema.free_form:
        raw = pa.Table.from_pandas(frame, preserve_index=False).to_pylist()
        return FrameValidation(FeatureBatch({}, n, raw=raw), [], np.ones(n, bool))
    present = set(frame.columns)
    bad = np.zeros(n, bool)
    found: list[tuple[Arr, int, list[str]]] = []
    checked: list[tuple[Feature, Arr, Arr]] = []
    for j, feat in enumerate(schema.features):
        if feat.name in present:
            col = from_series(frame[feat.name])
            null_word = "is missing" if text else "is null"
        else:
            col = missing(n)
            null_word = "is missing"
        if feat.dtype in MEDIA_DTYPES:
            ok, values, why = _check_media(feat, col, base_dir)
        else:
            if text:
                col = parse_text(col, feat.dtype)
            ok, values, why = _CHECKS[feat.dtype](feat, col)
        null = col.code == NULL
        wrong = ~ok & ~null
        if not feat.nullable:
            wrong |= null
        where = np.flatnonzero(wrong)
        if len(where):
            required = f"{null_word} and is required"
            found.append((where, j, [required if null[i] else why(int(i)) for i in where]))
            bad[where] = True
        checked.append((feat, values, null))
    good = ~bad
    columns: dict[str, list[Any]] = {}
    for feat, values, null in checked:
        clean = values[good].tolist()
        for k in np.flatnonzero(null[good]).tolist():
            clean[k] = None
        columns[feat.name] = clean
    return FrameValidation(FeatureBatch(columns, int(good.sum())), _sorted(found, numbers, schema),
                           good)


def _sorted(found: list[tuple[Arr, int, list[str]]], numbers: Arr,
            schema: InputSchema) -> list[Problem]:
    if not found:
        return []
    pos = np.concatenate([w for w, _, _ in found])
    feat = np.concatenate([np.full(len(w), j) for w, j, _ in found])
    reasons = [r for _, _, rs in found for r in rs]
    names = schema.names
    order = np.lexsort((feat, pos))
    return [(int(numbers[pos[k]]), names[feat[k]], reasons[k]) for k in order.tolist()]
