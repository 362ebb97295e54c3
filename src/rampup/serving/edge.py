"""The JSON edge: every request body rampup takes is parsed here, once, and anything it
could not store or compute with is refused with a 4xx naming the field and the fix.

What gets past orjson or the standard library and then breaks something deeper (a 500,
or a record the log writer cannot write) is stopped here instead:

- a UTF-8 byte order mark or bytes that are not UTF-8 (400);
- JSON nested deeper than ``max_depth`` (400; 1,025 levels used to raise RecursionError);
- integers outside the signed 64-bit range every store column and dtype holds (422;
  orjson silently turns them into floats, the standard library into huge ints);
- number literals that overflow a 64-bit float, such as ``1e400`` (422);
- ``NaN``/``Infinity`` literals, which JSON does not have (422);
- lone UTF-16 surrogates such as ``"\\ud800"``, which are not text (422);
- NUL characters (``"\\u0000"``), which PostgreSQL cannot store in text or JSON (422).

The common body takes the fast path: one ``orjson.loads`` plus two scans in C (no digit
run long enough to be an out-of-range integer; few enough brackets to be shallow, or else
a nesting depth counted in NumPy). Only
a body that fails one of them is parsed again by the standard library with hooks that
mark each bad value, and walked to name where it sits.

>>> parse(b'{"age": 41, "tags": ["a"]}')
{'age': 41, 'tags': ['a']}
>>> try:
...     parse(b'[{"age": 1}, {"age": 100000000000000000000}]')
... except ValidationError as e:
...     print(e.details["field"], e.details["record"], "-", e.message)
age 1 - record 1: 'age' is the integer 100000000000000000000, outside the 64-bit range
>>> try:
...     parse(b'[' * 70 + b']' * 70, max_depth=64)
... except MalformedRequestError as e:
...     print(e.message)
the request body is JSON nested more than 64 levels deep (at [0][0][0][0][0][0][0][0][0][0]...)
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from rampup.errors import MalformedRequestError, ValidationError

DEFAULT_MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
BOM = b"\xef\xbb\xbf"
# every integer with 18 digits or fewer fits int64: a body is scanned for a run of 19
# digits with every digit mapped to "0" (bytes.translate, then one find: both in C, ~15x
# faster than a regex on a 1,000-record body)
_ZERO_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_RUN = b"0" * 19
_UNTEXT = re.compile("[\x00\ud800-\udfff]")  # NUL or a lone surrogate half
_NUL_ESCAPE = b"\\u0000"
#: every byte but brackets, braces and quotes (deleted before counting depth)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


class _Unfit:
    """A value the slow parse met that rampup refuses: where it is found, it is named."""

    __slots__ = ("fix", "literal", "message")

    def __init__(self, literal: str, message: str, fix: str) -> None:
        self.literal, self.message, self.fix = literal, message, fix


def _int_hook(literal: str) -> Any:
    digits = literal.lstrip("-")
    # compare the length first: int() of a 5,000-digit literal raises ValueError
    if len(digits) > 19 or (len(digits) == 19 and not INT_MIN <= int(literal) <= INT_MAX):
        shown = literal if len(literal) <= 40 else f"{literal[:20]}...({len(digits)} digits)"
        return _Unfit(literal, f"is the integer {shown}, outside the 64-bit range",
                      f"send a whole number between {INT_MIN} and {INT_MAX}, or a larger "
                      "magnitude as a float (e.g. 1e30) where the field takes numbers")
    return int(literal)


def _float_hook(literal: str) -> Any:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        shown = literal if len(literal) <= 40 else literal[:37] + "..."
        return _Unfit(literal, f"is {shown}, which overflows a 64-bit float",
                      "send a finite number between -1.7976931348623157e308 and "
                      "1.7976931348623157e308")
    return value


def _constant_hook(literal: str) -> Any:
    return _Unfit(literal, f"is {literal}, which JSON does not allow",
                  "send a finite number, or null for a missing value")


def parse(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The JSON value of a request body, or a :class:`MalformedRequestError` (400) /
    :class:`ValidationError` (422) naming the field and the fix."""
    if body.startswith(BOM):
        raise MalformedRequestError(
            "the request body starts with a UTF-8 byte order mark (BOM)",
            fix="send the JSON as UTF-8 without a BOM (e.g. encoding='utf-8', not "
                "'utf-8-sig')", field="body")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _slow(body, max_depth)
    if _LONG_RUN in body.translate(_ZERO_DIGITS) or _NUL_ESCAPE in body:
        return _slow(body, max_depth)  # maybe an integer orjson turned into a float
    if body.count(b"[") + body.count(b"{") > max_depth:
        depth = _depth(body)
        if depth is None or depth > max_depth:
            _check(value, max_depth, strings=False)
    return value


def _depth(body: bytes) -> int | None:
    """How many containers deep a valid JSON body nests (a 1,000-record array of
    objects: 2), counted on its brackets and quotes alone (``bytes.translate`` drops the
    rest in C), or None when it has a backslash (an escaped quote would fool the count
    of which brackets sit inside strings): the walk then decides."""
    if b"\\" in body:
        return None
    import numpy as np

    marks = body.translate(None, _NOT_STRUCTURE)
    outside = b"".join(marks.split(b'"')[0::2])  # no backslash: quotes pair up
    raw = np.frombuffer(outside, dtype=np.uint8)
    step = ((raw == ord("[")) | (raw == ord("{"))).astype(np.int32) - (
        (raw == ord("]")) | (raw == ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _slow(body: bytes, max_depth: int) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError(
            f"the request body is not UTF-8 (byte {exc.start} is {body[exc.start]:#04x})",
            fix="send the JSON encoded as UTF-8", field="body") from None
    try:
        value = json.loads(text, parse_int=_int_hook, parse_float=_float_hook,
                           parse_constant=_constant_hook)
    except RecursionError:
        raise _too_deep(max_depth, "") from None
    except ValueError as exc:
        raise MalformedRequestError(f"the request body is not valid JSON: {exc}",
                                    fix="send a JSON object (one record) or an array of "
                                        "objects", field="body") from None
    _check(value, max_depth, strings=True)
    return value


def _too_deep(max_depth: int, where: str) -> MalformedRequestError:
    if len(where) > 60:
        where = where[:57] + "..."
    at = f" (at {where})" if where else ""
    return MalformedRequestError(
        f"the request body is JSON nested more than {max_depth} levels deep{at}",
        fix="flatten the document, or raise RAMPUP_MAX_JSON_DEPTH (serving.max_json_depth)",
        field="body")


def _check(value: Any, max_depth: int, *, strings: bool) -> None:
    """Walk the parsed value (iteratively: depth is what is being checked) and raise for
    the first value that is too deep or :class:`_Unfit`, or a string with a surrogate."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, dict):
            if depth >= max_depth:
                raise _too_deep(max_depth, _path_text(path))
            for k, x in v.items():
                if strings and _UNTEXT.search(k):
                    raise _untext((*path, k), k, key=True)
                stack.append((x, depth + 1, (*path, k)))
        elif isinstance(v, list):
            if depth >= max_depth:
                raise _too_deep(max_depth, _path_text(path))
            stack.extend((x, depth + 1, (*path, i)) for i, x in enumerate(v))
        elif isinstance(v, _Unfit):
            raise _bad(path, v.message, v.fix)
        elif strings and isinstance(v, str) and _UNTEXT.search(v):
            raise _untext(path, v, key=False)


def _untext(path: tuple[str | int, ...], text: str, *, key: bool) -> ValidationError:
    found = _UNTEXT.search(text)
    assert found is not None
    code = f"\\u{ord(found.group()):04x}"
    what = "has a key with" if key else "holds"
    if found.group() == "\x00":
        return _bad(path, f"{what} a NUL character (\\u0000), which cannot be stored",
                    "remove the NUL characters from the text")
    return _bad(path, f"{what} a lone UTF-16 surrogate ({code}), which is not text",
                "send valid Unicode: escape a character outside the BMP as a surrogate "
                "pair (e.g. \\ud83d\\ude00), or leave the lone half out")


def _bad(path: tuple[str | int, ...], message: str, fix: str) -> ValidationError:
    """A 422 in predict's problem shape: ``record`` when the body is an array."""
    record = path[0] if path and isinstance(path[0], int) else None
    rest = path[1:] if record is not None else path
    field = _path_text(rest) or "body"
    where = f"record {record}: " if record is not None else ""
    text = f"{where}'{field}' {message}" if rest else f"{where}the value {message}"
    problem: dict[str, Any] = {"field": field, "message": message, "fix": fix}
    if record is not None:
        problem = {"record": record, **problem}
    return ValidationError(text, fix=fix, field=field, record=record, problems=[problem])


def _path_text(path: tuple[str | int, ...]) -> str:
    """``('events', 2, 'value')`` -> ``events[2].value``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
