"""Alert conditions: ``METRIC OP NUMBER [for DURATION]`` over any metric of the catalogue.

A condition says when to raise the alarm (the opposite of a rollout check, which says
what healthy looks like): ``error_rate > 0.05`` fires while more than 5% of requests
fail. The metric is any name :func:`rampup.monitor.names.is_known` accepts, with items in
brackets (``feature[income].missing_fraction``, ``class_share[1]``); latency metrics
also accept an ``_ms`` suffix. Durations are read by :mod:`rampup.durations` (``30s``,
``5m``, ``1h30m``, ``PT1H``, or seconds).

>>> c, for_s = parse_condition("feature[income].missing_fraction > 0.2 for 5m")
>>> c.metric, c.op, c.threshold, for_s
('feature[income].missing_fraction', '>', 0.2, 300.0)
>>> c.breached(0.25), c.breached(0.2)
(True, False)
>>> c.text
'feature[income].missing_fraction > 0.2'
>>> parse_condition("latency_p99_ms >= 250")[0].text
'latency_p99 >= 250'
>>> parse_condition("error_rate > 0.1 for PT1H30M")[1]
5400.0
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import NoReturn

from rampup.durations import parse_duration
from rampup.errors import ValidationError
from rampup.monitor import names

OPS = ("<=", "<", ">=", ">")
_EXAMPLES = ("e.g. 'error_rate > 0.05', 'latency_p99 > 300 for 5m', "
             "'feature[income].missing_fraction > 0.2'")
_OP = re.compile(r"<=|>=|==|=<|=>|!=|<|>|=|!")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_FOR = re.compile(r"^(?P<num>.*?)\s+for\s+(?P<dur>\S.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Condition:
    """``metric op threshold``: the alarm condition (true means something is wrong)."""

    metric: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {_num(self.threshold)}"

    def breached(self, value: float) -> bool:
        """Whether a measured value meets the alarm condition (NaN never does)."""
        if math.isnan(value):
            return False
        if self.op == ">":
            return value > self.threshold
        if self.op == ">=":
            return value >= self.threshold
        if self.op == "<":
            return value < self.threshold
        return value <= self.threshold

    def __str__(self) -> str:
        return self.text


def known_metrics_help() -> str:
    """The catalogue in one line, for error messages."""
    fams = "; ".join(
        f"{fam}[ITEM]" + (f".{{{','.join(stats)}}}" if stats else "")
        for fam, stats in names.FAMILIES.items())
    flat = ", ".join((*names.SOFTWARE, *names.OUTPUT, *names.PERFORMANCE))
    drift = ", ".join((*names.DRIFT, *names.DRIFT_EMBEDDING, *names.LABEL_FREE,
                       "drift.feature[ITEM].{"
                       + ",".join(names.DRIFT_FEATURE_STATS) + "}"))
    return f"{flat}; per item: {fams}; drift (from the drift package): {drift}"


def canonical_metric(name: str) -> str | None:
    """The catalogue name ``name`` refers to (``latency_p99_ms`` -> ``latency_p99``)."""
    if names.is_known(name):
        return name
    if name.startswith("latency_") and name.endswith("_ms") and names.is_known(name[:-3]):
        return name[:-3]
    return None


def parse_condition(text: str) -> tuple[Condition, float | None]:
    """Parse ``METRIC OP NUMBER [for DURATION]``; returns the condition and the
    for-duration in seconds (None when not given).

    >>> parse_condition("error_rate > 0.05")
    (Condition(metric='error_rate', op='>', threshold=0.05), None)
    >>> try:
    ...     parse_condition("eror_rate > 0.05")
    ... except ValidationError as err:
    ...     print(err.message[:91])
    unknown metric 'eror_rate' in alert condition 'eror_rate > 0.05' (did you mean 'error_rate'
    """
    if not text or not text.strip():
        _fail(text, "the condition is empty")
    raw_metric, op, rhs = _split(text)
    metric = canonical_metric(raw_metric)
    if metric is None and raw_metric in names.EXACT_ONLY:
        _fail(text, f"no alert source computes {raw_metric!r} (alert condition {text!r}): "
                    f"{names.EXACT_ONLY[raw_metric]}", problem_is_message=True)
    if metric is None:
        hint = nearest_hint(raw_metric, _flat_names())
        _fail(text, f"unknown metric {raw_metric!r} in alert condition {text!r}{hint}",
              problem_is_message=True)
    if op is None:
        _fail(text, f"expected an operator ({', '.join(OPS)}) after {raw_metric!r}")
    if op not in OPS:
        _fail(text, f"unsupported operator {op!r}; use one of {', '.join(OPS)}")
    for_s: float | None = None
    fm = _FOR.match(rhs)
    if fm is not None:
        rhs = fm["num"].strip()
        for_s = parse_duration(fm["dur"], f"'for' of alert condition {text!r}")
    elif rhs.lower().endswith(" for") or rhs.lower() == "for":
        _fail(text, "'for' needs a duration, e.g. 'for 5m'")
    if not rhs:
        _fail(text, f"expected a number after {op!r}")
    if not _NUMBER.match(rhs):
        _fail(text, f"the threshold must be a number, found {rhs!r} (alert conditions compare "
                    "with a number; 1% is 0.01)")
    value = float(rhs)
    return Condition(metric, op, value), for_s


def _split(text: str) -> tuple[str, str | None, str]:
    """METRIC, OP, the rest. The metric ends at the first operator character outside
    brackets (feature names may hold spaces), or at a space when there is no operator."""
    depth, end = 0, None
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif depth == 0 and ch in "<>=!":
            end = i
            break
    if end is None:
        metric, _, rest = text.strip().partition(" ")
        return metric, None, rest.strip()
    m = _OP.match(text, end)
    op = m.group() if m else text[end]
    return text[:end].strip(), op, text[end + len(op):].strip()


def nearest_hint(name: str, candidates: list[str], n: int = 3) -> str:
    """`` (did you mean 'a' or 'b'?)`` with the closest candidates, or nothing.

    >>> nearest_hint("eror_rate", ["error_rate", "error_rate_labelled", "requests"])
    " (did you mean 'error_rate' or 'error_rate_labelled'?)"
    """
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {listed}?)"


def _flat_names() -> list[str]:
    return [*names.SOFTWARE, *names.OUTPUT, *names.PERFORMANCE, *names.DRIFT,
            *names.DRIFT_EMBEDDING, *names.LABEL_FREE,
            *(f"drift.feature[ITEM].{s}" for s in names.DRIFT_FEATURE_STATS),
            *(f"{fam}[ITEM].{s}" if s else f"{fam}[ITEM]"
              for fam, stats in names.FAMILIES.items() for s in (stats or ("",)))]


def _num(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _fail(text: str, problem: str, *, problem_is_message: bool = False) -> NoReturn:
    message = problem if problem_is_message else \
        f"cannot parse alert condition {text!r}: {problem}"
    raise ValidationError(
        message,
        fix=f"write METRIC OP NUMBER [for DURATION], {_EXAMPLES}; OP is one of "
            f"{', '.join(OPS)}; metrics: {known_metrics_help()}",
        field="condition")
