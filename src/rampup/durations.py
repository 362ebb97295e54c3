"""One reader for durations and points in time, used by every part of rampup that asks
for one (alert conditions, monitor queries, retraining specs, log export, the CLI, the
project file) so that ``5m`` means the same everywhere and a mistake is named the same way.

A **duration** is a number of seconds (``90``), numbers with units (``250ms``, ``90s``,
``5m``, ``1h30m``, ``2d``, ``1w``) or an ISO 8601 duration (``PT1H30M``, ``P1D``, ``PT0.5S``).
Months and years have no fixed length, so ISO ``P1M``/``P1Y`` are refused with a fix.

>>> parse_duration("1h30m"), parse_duration("PT1H30M"), parse_duration("250ms")
(5400.0, 5400.0, 0.25)
>>> parse_duration("90"), parse_duration(12), parse_duration("P1DT2H")
(90.0, 12.0, 93600.0)
>>> format_duration(5400.0)
'1h30m'
>>> parse_duration("5 minutes", "step")
Traceback (most recent call last):
...
rampup.errors.ValidationError: step: cannot read '5 minutes' as a duration; fix: write seconds (90), a number with units (250ms, 90s, 5m, 1h30m, 2d, 1w) or an ISO 8601 duration (PT1H30M, P1D)

A **point in time** (``--since``, ``--until``, ``since=``) is one of three forms, and the
answer says which it took (:meth:`Instant.describe`), so nobody silently gets 1970:

* a duration back from now: ``2h``, ``-2h``, ``PT30M``, or a bare number of seconds (``90``);
* an ISO 8601 date or timestamp: ``2024-05-01``, ``2024-05-01T12:00:00+02:00`` (UTC when no
  offset is given);
* explicit epoch seconds: ``epoch:1714521600``; ``now`` is also accepted.

A bare number large enough to be an epoch time (``1714521600``) is refused with the hint
to write ``epoch:1714521600``: as seconds back from now it would mean 1970.

>>> t = parse_instant("2h", now=10_000.0)
>>> t.ts, t.form
(2800.0, 'ago')
>>> parse_instant("epoch:1714521600").describe(now=1714525200.0)
'2024-05-01 00:00:00 UTC (epoch seconds 1714521600; 1h ago)'
>>> parse_instant("2024-05-01T12:00:00+02:00").ts
1714557600.0
>>> parse_instant("90", now=1714525200.0).describe(now=1714525200.0)
'2024-05-01 00:58:30 UTC (90s back from now)'
"""  # noqa: E501

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rampup.errors import ValidationError

__all__ = [
    "DURATION_FORMS", "TIME_FORMS", "Instant", "format_duration", "parse_duration",
    "parse_instant", "parse_time",
]

#: what a duration may be written as (shown in errors and in CLI help)
DURATION_FORMS = ("seconds (90), a number with units (250ms, 90s, 5m, 1h30m, 2d, 1w) "
                  "or an ISO 8601 duration (PT1H30M, P1D)")
#: what a point in time may be written as (shown in errors and in CLI help)
TIME_FORMS = ("a duration back from now (90s, 30m, 2h, 7d, PT1H; a bare number is seconds), "
              "an ISO 8601 date or timestamp (2024-05-01, 2024-05-01T12:00:00+02:00; UTC "
              "when no offset), or epoch seconds written epoch:1714521600")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_NUMBER = re.compile(r"^\+?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$")
_PART = re.compile(r"\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(ms|s|m|h|d|w)\s*")
_ISO = re.compile(
    r"^p(?:(?P<y>[\d.,]+)y)?(?:(?P<mo>[\d.,]+)m)?(?:(?P<w>[\d.,]+)w)?(?:(?P<d>[\d.,]+)d)?"
    r"(?:t(?:(?P<h>[\d.,]+)h)?(?:(?P<mi>[\d.,]+)m)?(?:(?P<s>[\d.,]+)s)?)?$")
_ISO_SIZES = {"w": 604_800.0, "d": 86_400.0, "h": 3600.0, "mi": 60.0, "s": 1.0}
#: a bare number at least this large reads as an epoch time (2001-09-09), not seconds back
_EPOCH_LIKE = 1e9


def parse_duration(value: str | float | int, field: str = "duration", *,
                   positive: bool = False) -> float:
    """Seconds in ``value`` (see the module docstring for the forms).

    ``field`` names what is being read in the error; ``positive`` refuses zero.

    >>> parse_duration("0"), parse_duration("1.5h"), parse_duration("1h 30m")
    (0.0, 5400.0, 5400.0)
    >>> parse_duration("0", "step", positive=True)
    Traceback (most recent call last):
    ...
    rampup.errors.ValidationError: step: must be longer than zero, got '0'; fix: write seconds (90), a number with units (250ms, 90s, 5m, 1h30m, 2d, 1w) or an ISO 8601 duration (PT1H30M, P1D)
    >>> parse_duration("P1M", "window")
    Traceback (most recent call last):
    ...
    rampup.errors.ValidationError: window: months and years have no fixed length in 'P1M'; fix: write days or weeks instead (P30D, P4W, 30d)
    """  # noqa: E501
    seconds = _duration(value, field)
    if positive and seconds <= 0:
        raise ValidationError(f"{field}: must be longer than zero, got {value!r}",
                              fix=f"write {DURATION_FORMS}", field=field)
    return seconds


def validator_seconds(value: Any, field: str = "duration") -> float:
    """:func:`parse_duration` for pydantic validators, which raise ``ValueError`` (pydantic
    adds where): the message and its fix in one line.

    >>> validator_seconds("2m")
    120.0
    """
    try:
        return parse_duration(value, field)
    except ValidationError as exc:
        raise ValueError(exc.message if exc.fix is None else f"{exc.message}; {exc.fix}"
                         ) from None


def _duration(value: str | float | int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _error(value, field)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise _error(value, field)
        return float(value)
    s = value.strip().lower()
    if not s:
        raise _error(value, field)
    if _NUMBER.match(s):
        number = float(s)
        if not math.isfinite(number):
            raise _error(value, field)
        return number
    if s.startswith("p"):
        return _iso_duration(s, value, field)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m[1]) * _UNITS[m[2]]
        pos = m.end()
    if pos != len(s) or not math.isfinite(total):
        raise _error(value, field)
    return total


def _iso_duration(s: str, value: str, field: str) -> float:
    m = _ISO.match(s)
    if not m or s in ("p", "pt") or s.endswith("t"):
        raise _error(value, field)
    if m["y"] or m["mo"]:
        raise ValidationError(f"{field}: months and years have no fixed length in {value!r}",
                              fix="write days or weeks instead (P30D, P4W, 30d)", field=field)
    total = 0.0
    for key, size in _ISO_SIZES.items():
        if part := m[key]:
            try:
                total += float(part.replace(",", ".")) * size
            except ValueError:
                raise _error(value, field) from None
    return total


def _error(value: object, field: str) -> ValidationError:
    return ValidationError(f"{field}: cannot read {value!r} as a duration",
                           fix=f"write {DURATION_FORMS}", field=field)


def format_duration(seconds: float) -> str:
    """The shortest duration text for ``seconds`` (``300`` -> ``5m``); reads back the same.

    >>> format_duration(0), format_duration(90), format_duration(86400), format_duration(1.5)
    ('0s', '1m30s', '1d', '1.5s')
    >>> format_duration(0.25)
    '250ms'
    """
    if seconds <= 0:
        return "0s"
    if not float(seconds).is_integer():
        if seconds < 1 and float(seconds * 1000).is_integer():
            return f"{int(seconds * 1000)}ms"
        short = f"{seconds:g}"
        if "e" in short or float(short) != seconds:
            short = repr(float(seconds))
        return f"{short}s"
    rest = int(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


Form = Literal["ago", "iso", "epoch", "now"]


@dataclass(frozen=True, slots=True)
class Instant:
    """A point in time read from text, with the form it was read in (so it can be echoed)."""

    ts: float
    form: Form
    text: str

    def describe(self, now: float | None = None) -> str:
        """The time in UTC and how the text was read, e.g. for a CLI to echo.

        >>> Instant(0.0, "iso", "1970-01-01").describe(now=0.0)
        '1970-01-01 00:00:00 UTC (ISO 8601 time)'
        """
        when = datetime.fromtimestamp(self.ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.form == "ago":  # as typed (a bare number in seconds)
            back = self.text.strip().lstrip("-")
            how = f"{back}{'s' if _NUMBER.match(back.lower()) else ''} back from now"
        elif self.form == "epoch":
            ago = _ref(now) - self.ts
            how = (f"epoch seconds {self.ts:.15g}; {format_duration(round(ago))} ago"
                   if ago > 0 else f"epoch seconds {self.ts:.15g}")
        elif self.form == "now":
            how = "now"
        else:
            how = "ISO 8601 time"
        return f"{when} ({how})"


def _ref(now: float | None) -> float:
    return time.time() if now is None else now


def parse_instant(value: str, field: str = "since", now: float | None = None) -> Instant:
    """Read a point in time (forms: the module docstring); ``now`` anchors durations.

    >>> parse_instant("-1h", now=7200.0).ts, parse_instant("now", now=5.0).ts
    (3600.0, 5.0)
    >>> parse_instant("2024-05-01").ts, parse_instant("2024-05-01 10:00Z").ts
    (1714521600.0, 1714557600.0)
    >>> parse_instant("1714521600", "since")
    Traceback (most recent call last):
    ...
    rampup.errors.ValidationError: since: '1714521600' is a bare number: that would be 1714521600 seconds back from now (before 1970); fix: for a point in epoch seconds write epoch:1714521600
    >>> parse_instant("yesterday", "until")
    Traceback (most recent call last):
    ...
    rampup.errors.ValidationError: until: cannot read 'yesterday' as a point in time; fix: use a duration back from now (90s, 30m, 2h, 7d, PT1H; a bare number is seconds), an ISO 8601 date or timestamp (2024-05-01, 2024-05-01T12:00:00+02:00; UTC when no offset), or epoch seconds written epoch:1714521600
    """  # noqa: E501
    if not isinstance(value, str):
        raise _time_error(value, field)
    text = value.strip()
    low = text.lower()
    if low == "now":
        return Instant(_ref(now), "now", value)
    if low.startswith("epoch:"):
        try:
            ts = float(low[len("epoch:"):])
        except ValueError:
            raise _time_error(value, field) from None
        if not math.isfinite(ts):
            raise _time_error(value, field)
        return Instant(ts, "epoch", value)
    back = low[1:] if low.startswith("-") else low
    if _NUMBER.match(back) and float(back) >= _EPOCH_LIKE:
        raise ValidationError(
            f"{field}: {value!r} is a bare number: that would be {back} seconds back from "
            "now (before 1970)", fix=f"for a point in epoch seconds write epoch:{back}",
            field=field)
    if back and (back[0].isdigit() or back[0] in ".p") and not _looks_like_date(back):
        try:
            seconds = _duration(back, field)
        except ValidationError:
            pass
        else:
            return Instant(_ref(now) - seconds, "ago", value)
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _time_error(value, field) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return Instant(when.timestamp(), "iso", value)


def _looks_like_date(s: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}", s)) or (len(s) == 8 and s.isdigit() and s[:2] in
                                                  ("19", "20"))


def parse_time(value: str, field: str = "since", now: float | None = None) -> float:
    """Epoch seconds of :func:`parse_instant` (when the form need not be echoed).

    >>> parse_time("30m", now=10_000.0)
    8200.0
    """
    return parse_instant(value, field, now).ts


def _time_error(value: object, field: str) -> ValidationError:
    return ValidationError(f"{field}: cannot read {value!r} as a point in time",
                           fix=f"use {TIME_FORMS}", field=field)
