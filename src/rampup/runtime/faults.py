"""What kind of failure is this, and how to keep a bad value as text. Pure.

A background writer meets three kinds of failure, and each has one right answer:

- ``transient``: the store is unreachable or busy (connection refused or dropped,
  pool timeout, SQLite busy). Keep the records and retry later; nothing is wrong with
  them.
- ``record``: this data cannot be stored (an integer beyond 64 bits, a lone surrogate,
  a NUL byte, a value out of a column's range, a constraint). Retrying cannot help:
  isolate the record (see :mod:`rampup.runtime.isolate`) and dead-letter it.
- ``fatal``: anything else is a bug or a broken installation. The worker dies, its
  supervisor restarts it with backoff and ``/readyz`` says so.

Exceptions are matched by class name along the MRO, so SQLAlchemy's wrappers and the
raw drivers' (``sqlite3``, ``psycopg``, whose COPY path is not wrapped) classify alike.

>>> classify(TypeError("Integer exceeds 64-bit range"))
'record'
>>> import sqlite3
>>> classify(sqlite3.OperationalError("database is locked"))
'transient'
>>> classify(KeyError("x"))
'fatal'
>>> safe, changed = json_safe({"region": {"\\ud800": 3, "ok": 1}, "n": 10**30})
>>> safe, changed
({'region': {'\\\\ud800': 3, 'ok': 1}, 'n': 1e+30}, ['n', 'region.\\\\ud800'])
>>> print(safe_text({"region": "\\ud800", "n": 10**5000}))
{'n': <int of 16610 bits>, 'region': '\\ud800'}
"""

from __future__ import annotations

import builtins
import reprlib
from typing import Any, Literal

import orjson

Kind = Literal["transient", "record", "fatal"]

TRANSIENT_NAMES = frozenset({"OperationalError", "InterfaceError", "DisconnectionError",
                             "ConnectionError", "TimeoutError", "ConnectionTimeout"})
RECORD_NAMES = frozenset({"DataError", "IntegrityError"})
#: Python-side errors met while encoding a value (orjson, the drivers' parameter binding)
RECORD_TYPES: tuple[type[BaseException], ...] = (TypeError, ValueError, UnicodeError,
                                                 OverflowError, RecursionError)
PAYLOAD_LIMIT = 8192
REASON_LIMIT = 500


def classify(exc: BaseException) -> Kind:
    """``transient``, ``record`` or ``fatal`` (see the module docstring)."""
    if getattr(exc, "connection_invalidated", False):
        return "transient"
    names = {c.__name__ for c in type(exc).__mro__}
    if names & TRANSIENT_NAMES:
        return "transient"
    if names & RECORD_NAMES:
        return "record"
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException) and orig is not exc:
        # SQLAlchemy's StatementError: the driver refused a parameter before sending it
        return classify(orig)
    if isinstance(exc, RECORD_TYPES):
        return "record"
    return "fatal"


def describe(exc: BaseException, limit: int = REASON_LIMIT) -> str:
    """``Type: message`` of the root cause, without SQL and bound parameters (which may
    hold a whole batch), made safe and short."""
    orig = getattr(exc, "orig", None)
    root = orig if isinstance(orig, BaseException) else exc
    try:
        text = f"{type(root).__name__}: {root}"
    except Exception:  # an exception whose str() fails
        text = type(root).__name__
    return _clean(text.split("\n[SQL:", 1)[0], limit)


class _SafeRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 8
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = 200
        self.maxstring = 2000
        self.maxlong = 400
        self.maxother = 400

    def repr_int(self, x: int, level: int) -> str:
        try:
            text = builtins.repr(x)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            return f"<int of {x.bit_length()} bits>"
        if len(text) > self.maxlong:
            return f"<int of {len(text)} digits>"
        return text


_REPR = _SafeRepr()


def safe_text(value: Any, limit: int = PAYLOAD_LIMIT) -> str:
    """``value`` as text that any store accepts: JSON when it encodes, else a bounded
    repr; lone surrogates and control characters escaped, NUL spelled out, at most
    ``limit`` characters (with a note of what was cut)."""
    return safe_payload(value, limit)[0]


def safe_payload(value: Any, limit: int = PAYLOAD_LIMIT) -> tuple[str, int]:
    """:func:`safe_text` and the length of the text before the cap."""
    if isinstance(value, str):
        return _clean(value, limit), len(value)
    try:
        text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY
                            | orjson.OPT_NON_STR_KEYS).decode()
    except Exception:  # not JSON-able: that is usually why it is here
        try:
            text = _REPR.repr(value)
        except Exception as exc:  # a __repr__ that raises
            text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    return _clean(text, limit), len(text)


INT64 = 2**63


def json_safe(value: Any) -> tuple[Any, list[str]]:
    """A copy of a JSON-like document that every store's JSON column accepts, and the
    paths that had to change: text (keys too) with lone surrogates or NUL is escaped,
    integers beyond 64 bits become floats (or their text, past a float's range)."""
    changed: list[str] = []
    out = _json_safe(value, "", changed)
    return out, sorted(changed)


def _json_safe(value: Any, path: str, changed: list[str]) -> Any:
    if isinstance(value, str):
        fixed = _fix_text(value)
        if fixed is not value:
            changed.append(path or "$")
        return fixed
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if -INT64 <= value < INT64:
            return value
        changed.append(path or "$")
        try:
            return float(value)
        except OverflowError:
            return safe_text(value, 100)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = _fix_text(k) if isinstance(k, str) else k
            sub = f"{path}.{key}" if path else str(key)
            if key is not k:
                changed.append(sub)
            out[key] = _json_safe(v, sub, changed)
        return out
    if isinstance(value, list | tuple):
        return [_json_safe(v, f"{path}[{i}]", changed) for i, v in enumerate(value)]
    return value


def _fix_text(text: str) -> str:
    """``text`` itself when it is clean (the common case, no copy), else escaped."""
    if text.isascii() and "\x00" not in text:
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _clean(text, len(text) * 10 + 10)
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def _clean(text: str, limit: int) -> str:
    out = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if len(out) > limit:
        out = f"{out[:limit]}… ({len(out)} characters, cut at {limit})"
    return out
