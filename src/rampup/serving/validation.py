"""Request parsing and validation against a version's input schema (pure, hot path).

Every problem names the record, the field and the fix. All problems of a request are
reported at once (up to a limit), so a client can fix its payload in one go.

>>> from rampup.registry.schema import Feature, InputSchema
>>> v = Validator(InputSchema([Feature("age", "int"), Feature("city", "str", nullable=True)]))
>>> batch = v.validate([{"age": 30, "city": None}, {"age": 41.0}])
>>> batch.columns
{'age': [30, 41], 'city': [None, None]}
>>> try:
...     v.validate([{"age": "thirty"}])
... except InputErrors as e:
...     print(e.problems[0]["field"], "-", e.problems[0]["message"])
age - must be an integer, got string 'thirty'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from rampup.errors import PayloadTooLargeError, ValidationError
from rampup.registry.predictor import FeatureBatch
from rampup.registry.schema import Feature, InputSchema
from rampup.serving.edge import DEFAULT_MAX_DEPTH, INT_MAX, INT_MIN, parse

MAX_PROBLEMS = 20
_MISSING = object()


class FormText(str):
    """A text field of a multipart/form-data upload: typed by the schema when validated
    (``"42"`` for an int feature is 42), since forms carry only text and files."""

    __slots__ = ()


def _from_form(v: FormText, f: Feature) -> Any:
    if f.dtype in ("float", "int", "bool", "tensor", "embedding"):
        try:
            return parse(str(v).encode())
        except ValidationError:
            return str(v)
    return str(v)


class InputErrors(ValidationError):
    """Several field-level problems; ``problems`` is a list of {record, field, message, fix}."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0]
        where = f"record {first['record']}: " if first.get("record") is not None else ""
        head = f"{where}feature {first['field']!r} {first['message']}" if first.get(
            "field") else f"{where}{first['message']}"
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(head + more, fix=first.get("fix"), field=first.get("field"),
                         record=first.get("record"), problems=problems)
        self.problems = problems


def parse_json(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse a request body at the JSON edge (:func:`rampup.serving.edge.parse`): values
    nothing downstream could hold (NaN, out-of-range numbers, lone surrogates) are 4xx."""
    return parse(body, max_depth)


def as_records(payload: Any, max_records: int) -> tuple[list[Any], bool]:
    """Return (records, was_single). One object is one record; an array is many."""
    if isinstance(payload, dict):
        return [payload], True
    if isinstance(payload, list):
        if not payload:
            raise ValidationError("the request holds no records",
                                  fix="send at least one record", field="body")
        if len(payload) > max_records:
            raise PayloadTooLargeError(
                f"the request holds {len(payload)} records, more than the limit of {max_records}",
                fix=f"split it into requests of at most {max_records} records, or use "
                    "'rampup predict-batch' for files", field="body")
        return payload, False
    raise ValidationError(f"expected a JSON object or an array of objects, got {_kind(payload)}",
                          fix="send one record as an object or many as an array", field="body")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, int | float):
        return f"number {v!r}"
    if isinstance(v, str):
        short = v if len(v) <= 40 else v[:37] + "..."
        return f"string {short!r}"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__  # pragma: no cover - JSON has no other types


Check = Callable[[Any], Any]  # returns the clean value or raises _Bad


class _Bad(Exception):
    def __init__(self, message: str, fix: str) -> None:
        self.message = message
        self.fix = fix


def _float(f: Feature) -> Check:
    def check(v: Any) -> Any:
        if type(v) is float:
            if math.isfinite(v):
                return v
            raise _Bad(f"is {_kind(v)}, which is not allowed",
                       f"send a finite number{' or null' if f.nullable else ''}")
        if type(v) is int:
            return float(v)
        raise _Bad(f"must be a number, got {_kind(v)}", f"send {f.name!r} as a JSON number")
    return check


def _int(f: Feature) -> Check:
    def check(v: Any) -> Any:
        if type(v) is float and math.isfinite(v) and v.is_integer():
            v = int(v)
        elif type(v) is not int:
            raise _Bad(f"must be an integer, got {_kind(v)}",
                       f"send {f.name!r} as a whole number")
        if INT_MIN <= v <= INT_MAX:
            return v
        raise _Bad(f"is {v:.3g}, beyond what a 64-bit integer holds",
                   f"send {f.name!r} as a whole number between {INT_MIN} and {INT_MAX}")
    return check


def _bool(f: Feature) -> Check:
    def check(v: Any) -> Any:
        if type(v) is bool:
            return v
        if type(v) is int and v in (0, 1):
            return bool(v)
        raise _Bad(f"must be true or false, got {_kind(v)}", f"send {f.name!r} as a JSON boolean")
    return check


def _str(f: Feature) -> Check:
    allowed = frozenset(f.categories) if f.categories is not None and f.strict_categories else None
    shown = ", ".join(repr(c) for c in list(f.categories or ())[:20])
    lo, hi = f.min_length, f.max_length

    def check(v: Any) -> Any:
        if type(v) is not str:
            raise _Bad(f"must be a string, got {_kind(v)}", f"send {f.name!r} as a JSON string")
        if allowed is not None and v not in allowed:
            raise _Bad(f"has value {v!r}, which is not an allowed category",
                       f"use one of: {shown}")
        if lo is not None and len(v) < lo:
            raise _Bad(f"is {len(v)} characters long, shorter than {lo}",
                       f"send at least {lo} characters")
        if hi is not None and len(v) > hi:
            raise _Bad(f"is {len(v)} characters long, longer than {hi}",
                       f"send at most {hi} characters")
        return v
    return check


def _media(f: Feature) -> Check:
    from rampup.inputs.checks import value_check
    from rampup.inputs.media import InputProblem

    inner = value_check(f)

    def check(v: Any) -> Any:
        try:
            return inner(v)
        except InputProblem as p:
            raise _Bad(p.message, p.fix) from None
    return check


_CHECKS: dict[str, Callable[[Feature], Check]] = {
    "float": _float, "int": _int, "bool": _bool, "str": _str, "image": _media,
    "audio": _media, "text": _media, "tensor": _media, "embedding": _media}
_TYPE_WORD = {"float": "a number", "int": "an integer", "bool": "a boolean", "str": "a string",
              "image": "a PNG or JPEG file (base64 or a multipart upload)",
              "audio": "a WAV or FLAC file (base64 or a multipart upload)", "text": "a string",
              "tensor": "a nested array of numbers", "embedding": "an array of numbers"}
#: decoded in place in the record, so the log and shadows see the decoded input
_BINARY = frozenset({"image", "audio"})


#: from this many records a request is checked a column at a time (Validator._columnwise)
_COLUMNWISE_FROM = 16
_SCALAR = frozenset({"float", "int", "bool", "str"})
NoneType = type(None)
#: the Python types a valid JSON value of each scalar dtype arrives as (None if nullable)
_KINDS: dict[str, frozenset[type]] = {
    "float": frozenset({float, int, NoneType}), "int": frozenset({int, float, NoneType}),
    "bool": frozenset({bool, int, NoneType}), "str": frozenset({str, NoneType})}


class Validator:
    """A schema compiled into per-feature checks. Thread-safe and reusable."""

    def __init__(self, schema: InputSchema, ignore: Sequence[str] = (),
                 protected: Collection[str] = ()) -> None:
        self.schema = schema
        #: fields under privacy rules: a message about them never quotes their value
        self.protected = frozenset(protected)
        self.names = schema.names
        self._checks = [(f.name, f.nullable, _CHECKS[f.dtype](f), f) for f in schema.features]
        self._known = frozenset(self.names) | frozenset(ignore)
        #: whether validating decodes values into the records (images, audio)
        self.decodes_in_place = any(f.dtype in _BINARY for f in schema.features)
        self._allow_extra = schema.allow_extra

    def validate(self, records: Sequence[Any]) -> FeatureBatch:
        if self.schema.free_form:
            for i, rec in enumerate(records):
                if not isinstance(rec, dict):
                    raise InputErrors([_problem(i, None, f"must be a JSON object, got {_kind(rec)}",
                                                "send each record as an object")])
            return FeatureBatch({}, len(records), raw=list(records))
        if len(records) >= _COLUMNWISE_FROM:
            clean = self._columnwise(records)
            if clean is not None:
                return FeatureBatch(clean, len(records), raw=list(records))
        columns: dict[str, list[Any]] = {name: [] for name in self.names}
        problems: list[dict[str, Any]] = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                problems.append(_problem(i, None, f"must be a JSON object, got {_kind(rec)}",
                                         "send each record as an object of feature values"))
                continue
            for name, nullable, check, feat in self._checks:
                v = rec.get(name, _MISSING)
                if v is None or v is _MISSING:
                    if nullable:
                        columns[name].append(None)
                        continue
                    word = "is missing" if v is _MISSING else "is null"
                    problems.append(_problem(i, name, f"{word} and is required",
                                             f"send {name!r} as {_TYPE_WORD[feat.dtype]}"))
                    continue
                if type(v) is FormText:
                    v = _from_form(v, feat)
                try:
                    clean = check(v)
                    columns[name].append(clean)
                    if feat.dtype in _BINARY:
                        rec[name] = clean
                except _Bad as bad:
                    if name in self.protected:
                        bad = _Bad(_without_value(bad.message, v), bad.fix)
                    problems.append(_problem(i, name, bad.message, bad.fix))
            if not self._allow_extra:
                for k in rec:
                    if k not in self._known:
                        problems.append(_problem(
                            i, k, "is not a feature of this model",
                            f"remove it; the features are: {', '.join(self.names[:30])}"))
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise InputErrors(problems[:MAX_PROBLEMS])
        return FeatureBatch(columns, len(records), raw=list(records))


    def _columnwise(self, records: Sequence[Any]) -> dict[str, list[Any]] | None:
        """The columns of many records checked a column at a time (C-level type scans,
        one NumPy finiteness test per float column), or None when anything is not plainly
        valid: the record-by-record path then names every problem exactly as before."""
        if set(map(type, records)) != {dict}:
            return None
        if not self._allow_extra:
            known = self._known
            if not all(rec.keys() <= known for rec in records):
                return None
        columns: dict[str, list[Any]] = {}
        for name, nullable, check, feat in self._checks:
            if feat.dtype not in _SCALAR:
                return None  # media values are decoded in place: record by record
            col = [rec.get(name) for rec in records]
            kinds = set(map(type, col))
            if (NoneType in kinds and not nullable) or not kinds <= _KINDS[feat.dtype]:
                return None  # missing, null, a form value or a wrong type: named below
            if feat.dtype == "float":
                numbers = kinds - {NoneType}
                if numbers:
                    values = np.array([v for v in col if v is not None] if NoneType in kinds
                                      else col, dtype=np.float64)
                    if not np.isfinite(values).all():
                        return None
                if int in numbers:
                    col = [float(v) if type(v) is int else v for v in col]
            else:
                try:
                    col = [v if v is None else check(v) for v in col]
                except _Bad:
                    return None
            columns[name] = col
        return columns


def _without_value(message: str, value: Any) -> str:
    """A message about a protected field, its value left out (its kind stays)."""
    word = {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}
    message = message.replace(_kind(value), word.get(type(value).__name__, "a value"))
    return message.replace(repr(value), "a value") + " (value not shown: the field is protected)"


def _problem(record: int, field: str | None, message: str, fix: str) -> dict[str, Any]:
    return {"record": record, "field": field, "message": message, "fix": fix}
