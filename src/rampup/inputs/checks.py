"""Validators of unstructured input values, one per dtype (used by request validation and
by batch runs alike): a value in, the decoded value out, or an :class:`InputProblem`.

>>> from rampup.registry.schema import Feature
>>> check = value_check(Feature("v", "embedding", length=3))
>>> check([1, 2, 3]).dtype, check([1, 2, 3]).tolist()
(dtype('float32'), [1.0, 2.0, 3.0])
>>> try:
...     check([1, 2])
... except InputProblem as p:
...     print(p.message, "/", p.fix)
has 2 numbers, expected 3 / send an embedding of exactly 3 numbers
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from rampup.inputs.media import (
    MAX_BYTES,
    MAX_PIXELS,
    MAX_SECONDS,
    InputProblem,
    decode_audio,
    decode_image,
)
from rampup.registry.schema import Feature

ValueCheck = Callable[[Any], Any]


def _image(f: Feature) -> ValueCheck:
    max_bytes, max_pixels = f.max_bytes or MAX_BYTES, f.max_pixels or MAX_PIXELS

    def check(v: Any) -> Any:
        return decode_image(v, max_bytes=max_bytes, max_pixels=max_pixels)
    return check


def _audio(f: Feature) -> ValueCheck:
    max_bytes, max_seconds = f.max_bytes or MAX_BYTES, f.max_seconds or MAX_SECONDS

    def check(v: Any) -> Any:
        return decode_audio(v, max_bytes=max_bytes, max_seconds=max_seconds,
                            sample_rates=f.sample_rates)
    return check


def _text(f: Feature) -> ValueCheck:
    lo, hi = f.min_length, f.max_length

    def check(v: Any) -> Any:
        if isinstance(v, bytes):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError:
                raise InputProblem("is not UTF-8 text", "send the text encoded as UTF-8") \
                    from None
        if not isinstance(v, str):
            raise InputProblem(f"must be text, got {type(v).__name__}",
                               f"send {f.name!r} as a JSON string")
        if lo is not None and len(v) < lo:
            raise InputProblem(f"is {len(v)} characters long, shorter than {lo}",
                               f"send at least {lo} characters")
        if hi is not None and len(v) > hi:
            raise InputProblem(f"is {len(v)} characters long, longer than {hi}",
                               f"send at most {hi} characters")
        return v
    return check


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def _tensor(f: Feature) -> ValueCheck:
    element = np.dtype(f.element or "float32")
    shape = f.shape

    def check(v: Any) -> Any:
        try:
            a = np.asarray(v, dtype=element)
        except (TypeError, ValueError, OverflowError):
            raise InputProblem(f"is not an array of {element.name}",
                               f"send nested JSON arrays of numbers, shape "
                               f"{_shape_text(shape) if shape else 'any'}") from None
        if a.dtype == object:
            raise InputProblem("is a ragged array", "send rows of equal length")
        if element.kind == "f" and not np.isfinite(a).all():
            raise InputProblem("holds NaN or infinity", "send finite numbers")
        if shape is not None and (a.ndim != len(shape) or any(
                d is not None and d != n for d, n in zip(shape, a.shape, strict=True))):
            raise InputProblem(f"has shape {tuple(a.shape)}, expected {_shape_text(shape)}",
                               f"send an array of shape {_shape_text(shape)}")
        return a
    return check


def _embedding(f: Feature) -> ValueCheck:
    length = f.length

    def check(v: Any) -> Any:
        if not isinstance(v, list | tuple | np.ndarray) or any(
                isinstance(x, bool) or not isinstance(x, int | float | np.number) for x in v):
            raise InputProblem("must be an array of numbers",
                               f"send {f.name!r} as a JSON array of numbers")
        if length is not None and len(v) != length:
            raise InputProblem(f"has {len(v)} numbers, expected {length}",
                               f"send an embedding of exactly {length} numbers")
        if not all(math.isfinite(float(x)) for x in v):
            raise InputProblem("holds NaN or infinity", "send finite numbers")
        return np.asarray(v, dtype=np.float32)
    return check


CHECKS: dict[str, Callable[[Feature], ValueCheck]] = {
    "image": _image, "audio": _audio, "text": _text, "tensor": _tensor,
    "embedding": _embedding}


def value_check(f: Feature) -> ValueCheck:
    """The validator of feature ``f`` (an unstructured dtype)."""
    return CHECKS[f.dtype](f)
