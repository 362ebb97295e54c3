"""Checks: one condition over a metric, absolute or relative to a baseline version.

Grammar (whitespace is free)::

    check := METRIC OP RHS
    OP    := <= | < | >= | >
    RHS   := NUMBER | baseline | NUMBER * baseline | baseline * NUMBER
           | baseline + NUMBER | baseline - NUMBER

Rollout gates and alert rules are both made of checks. Parsing is pure; the judge
(:mod:`rampup.rollout.judge`) measures and decides.

>>> c = parse_check("latency_p99_ms<=1.2*baseline")
>>> c.text, c.metric, c.relative, c.direction
('latency_p99 <= 1.2 * baseline', 'latency_p99', True, 'upper')
>>> c.resolve(250.0)
300.0
>>> parse_check("accuracy >= baseline - 0.02").resolve(0.9)
0.88
>>> a = parse_check("error_rate <= 0.01")
>>> a.relative, a.resolve(None), a.satisfied(0.02, a.resolve(None))
(False, 0.01, False)
>>> parse_check(a.text) == a
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from rampup.errors import ValidationError

Direction = Literal["upper", "lower"]

#: metric -> what it measures (shown in error messages and docs).
METRICS: dict[str, str] = {
    "error_rate": "share of predictions that failed",
    "latency_p50": "median latency (ms)",
    "latency_p90": "90th percentile latency (ms)",
    "latency_p95": "95th percentile latency (ms)",
    "latency_p99": "99th percentile latency (ms)",
    "latency_mean": "mean latency (ms)",
    "accuracy": "share of labelled predictions that were right",
    "agreement": "share of requests where the candidate agrees with the primary",
    "mean_abs_diff": "mean |candidate - primary| over numeric outputs",
    "score_divergence": "Jensen-Shannon distance of score histograms (20 bins on [0, 1])",
    "requests": "number of predictions in the window",
}
#: task metrics over labelled predictions (:mod:`rampup.tasks`); ranking metrics also come
#: at any cut-off: recall_at_K, ndcg_at_K, map_at_K.
TASK_METRICS: dict[str, str] = {
    "wer": "word error rate of labelled transcripts (corpus: edits / reference words)",
    "cer": "character error rate of labelled transcripts",
    "mrr": "mean reciprocal rank of labelled rankings",
    "map_50": "detection mAP at IoU 0.5 of labelled images",
    "recall_50": "share of labelled objects detected at IoU 0.5",
    "precision_50": "share of detections that found a labelled object at IoU 0.5",
}
_AT_K = re.compile(r"^(recall|ndcg|map)_at_[1-9][0-9]*$")
#: metrics that compare the candidate with the primary on the same requests (no baseline).
PAIRED = frozenset({"agreement", "mean_abs_diff", "score_divergence"})
#: metrics that are shares in [0, 1].
RATES = frozenset({"error_rate", "accuracy", "agreement", "score_divergence"})
LATENCY_QUANTILES: dict[str, float] = {
    "latency_p50": 0.50, "latency_p90": 0.90, "latency_p95": 0.95, "latency_p99": 0.99}
OPS = ("<=", "<", ">=", ">")
FORMS = "a number, baseline, N * baseline, baseline + N or baseline - N"
_EXAMPLES = "e.g. 'error_rate <= 0.01', 'latency_p99 <= 1.2 * baseline', " \
            "'accuracy >= baseline - 0.02'"

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<|>)
  | (?P<sym>[*+-])
  | (?P<bad>.)
""", re.VERBOSE)


@dataclass(frozen=True)
class Check:
    """``metric op factor * baseline + offset`` when relative, ``metric op value`` when not."""

    metric: str
    op: str
    value: float | None = None
    factor: float = 1.0
    offset: float = 0.0

    @property
    def relative(self) -> bool:
        """Whether the threshold depends on a baseline version's value."""
        return self.value is None

    @property
    def direction(self) -> Direction:
        """``upper``: the metric must stay below the threshold; ``lower``: above it."""
        return "upper" if self.op in ("<=", "<") else "lower"

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.rhs}"

    @property
    def rhs(self) -> str:
        if self.value is not None:
            return _num(self.value)
        rhs = "baseline" if self.factor == 1.0 else f"{_num(self.factor)} * baseline"
        if self.offset:
            rhs += f" {'+' if self.offset > 0 else '-'} {_num(abs(self.offset))}"
        return rhs

    def resolve(self, baseline: float | None) -> float:
        """The threshold as a number, given the baseline's value of the metric."""
        if self.value is not None:
            return self.value
        if baseline is None:
            raise ValidationError(f"check {self.text!r} needs the baseline's {self.metric}",
                                  fix="measure a baseline version over the same window")
        # rounding hides float noise such as 0.9 - 0.02 = 0.8800000000000001
        return round(self.factor * baseline + self.offset, 12)

    def satisfied(self, value: float, threshold: float) -> bool:
        """Whether a measured value meets the threshold."""
        if self.op == "<=":
            return value <= threshold
        if self.op == "<":
            return value < threshold
        if self.op == ">=":
            return value >= threshold
        return value > threshold

    def __str__(self) -> str:
        return self.text


def _num(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def canonical_metric(name: str) -> str | None:
    """The metric a name refers to (``latency_p99_ms`` is ``latency_p99``), or None."""
    if name in METRICS or name in TASK_METRICS or _AT_K.match(name):
        return name
    if name.startswith("latency_") and name.endswith("_ms") and name[:-3] in METRICS:
        return name[:-3]
    return None


def parse_check(text: str) -> Check:
    """Parse ``METRIC OP RHS``; a :class:`ValidationError` says where and what is wrong.

    >>> parse_check("agreement >= 0.95").direction
    'lower'
    >>> parse_check("latency_p99 <= baseline + 20").text
    'latency_p99 <= baseline + 20'
    >>> try:
    ...     parse_check("latency_p99 =< 300")
    ... except ValidationError as err:
    ...     print(err.message)
    cannot parse check 'latency_p99 =< 300' at position 12: expected an operator \
(<=, <, >=, >), found '='
    """
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or "bad"
            if kind != "ws":
                self.tokens.append((kind, m.group(), m.start()))
        self.i = 0

    def parse(self) -> Check:
        if not self.text.strip():
            self._fail("the check is empty", 0)
        kind, word, pos = self._next("a metric name")
        metric = canonical_metric(word) if kind == "name" else None
        if metric is None:
            self._fail(f"unknown metric {word!r}; metrics: {', '.join(METRICS)}, "
                       f"{', '.join(TASK_METRICS)}, recall_at_K, ndcg_at_K, map_at_K "
                       "(latency metrics also accept an _ms suffix)", pos)
        kind, op, pos = self._next("an operator (<=, <, >=, >)")
        if kind != "op":
            self._fail(f"expected an operator (<=, <, >=, >), found {op!r}", pos)
        rhs_pos = self._peek_pos()
        check = self._rhs(metric, op)
        if self.i < len(self.tokens):
            _, word, pos = self.tokens[self.i]
            self._fail(f"unexpected {word!r} after the threshold", pos)
        self._validate(check, rhs_pos)
        return check

    def _rhs(self, metric: str, op: str) -> Check:
        kind, word, pos = self._next(f"a threshold ({FORMS})")
        if kind == "num":
            number = float(word)
            if self._at("sym", "*"):
                self.i += 1
                self._expect_baseline()
                return Check(metric, op, None, factor=number)
            return Check(metric, op, number)
        if (kind, word) != ("name", "baseline"):
            self._fail(f"expected a threshold ({FORMS}), found {word!r}", pos)
        if self._at("sym", "*"):
            self.i += 1
            return Check(metric, op, None, factor=self._number())
        if self._at("sym", "+") or self._at("sym", "-"):
            sign = 1.0 if self.tokens[self.i][1] == "+" else -1.0
            self.i += 1
            return Check(metric, op, None, offset=sign * self._number())
        return Check(metric, op, None)

    def _validate(self, c: Check, pos: int) -> None:
        if c.relative and c.metric in PAIRED:
            self._fail(f"{c.metric} compares the candidate with the primary on the same "
                       f"requests and has no baseline; give a number, e.g. "
                       f"'{c.metric} {c.op} 0.95'", pos)
        if c.relative and c.factor <= 0:
            self._fail(f"the baseline factor must be positive, not {_num(c.factor)}", pos)
        for x in (c.value, c.factor, c.offset):
            if x is not None and not math.isfinite(x):
                self._fail(f"the threshold must be a finite number, not {x!r}", pos)
        if c.value is not None and c.metric in RATES and not 0.0 <= c.value <= 1.0:
            self._fail(f"{c.metric} is a share between 0 and 1, so {_num(c.value)} cannot be "
                       "its threshold (write 1% as 0.01)", pos)

    def _number(self) -> float:
        kind, word, pos = self._next("a number")
        if kind != "num":
            self._fail(f"expected a number, found {word!r}", pos)
        return float(word)

    def _expect_baseline(self) -> None:
        kind, word, pos = self._next("'baseline'")
        if (kind, word) != ("name", "baseline"):
            self._fail(f"expected 'baseline' after '*', found {word!r}", pos)

    def _at(self, kind: str, word: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][:2] == (kind, word)

    def _peek_pos(self) -> int:
        return self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)

    def _next(self, expected: str) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            self._fail(f"expected {expected}, but the check ends there", len(self.text))
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _fail(self, problem: str, pos: int) -> NoReturn:
        raise ValidationError(
            f"cannot parse check {self.text!r} at position {pos}: {problem}",
            fix=f"write METRIC OP RHS, {_EXAMPLES}; OP is one of {', '.join(OPS)}; RHS is "
                f"{FORMS}; metrics: {', '.join(METRICS)}",
            field="check", position=pos)
