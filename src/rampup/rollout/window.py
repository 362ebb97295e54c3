"""What a version did over a time window, rebuilt from the prediction log.

:class:`WindowStats` (one version, some roles) and :class:`PairedStats` (a shadow
candidate next to the primary on the same requests) are plain, mergeable values: windows
and replicas combine with ``merge``. :func:`measure` and :func:`paired` build them by
streaming :meth:`Database.predictions.iter_predictions`; :class:`WindowBuilder` is the pure part.

Shadow rows carry the id ``"<answer id>~<version>"``. Labels arrive for the answer id, so a
shadow row takes the label of its answer; the answer is looked up in the same ordered
stream, up to ``slack_s`` seconds earlier than the shadow row (mirrors finish after the
answer was logged).

>>> b = WindowBuilder("v2")
>>> b.add_row({"id": "a", "request_id": "a", "ts": 1.0, "latency_ms": 12.0,
...            "outputs": '{"prediction": "yes", "confidence": 0.8}', "label": "yes"})
>>> b.add_row({"id": "b", "request_id": "b", "ts": 2.0, "latency_ms": 30.0,
...            "outputs": None, "error": "ValueError: boom"})
>>> w = b.build()
>>> w.requests, w.errors, w.error_rate, w.accuracy, w.latency(0.5)
(2, 1, 0.5, 1.0, 21.0)
>>> w.merge(w).requests
4
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from rampup.errors import ValidationError
from rampup.rollout.agreement import Agreement, as_number, canonical
from rampup.store import Database

HUMAN = "human"
#: how much later than its answer a shadow row may be logged and still be paired with it.
SLACK_S = 60.0

FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]
StrArray = npt.NDArray[np.str_]


def _floats(values: Sequence[float] = ()) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _objects(values: Sequence[Any] = ()) -> ObjArray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


@dataclass(frozen=True, eq=False)  # arrays inside: == would be ambiguous
class WindowStats:
    """Counts and samples for one version over a window.

    ``requests`` counts logged predictions (records) and ``latencies_ms`` has one entry per
    record, failed ones included. ``labelled``/``correct`` count successful predictions
    with a label and the exact matches among them; ``abs_errors`` holds
    ``|prediction - label|`` where both are numbers; ``predictions`` holds successful
    predictions as label strings; ``scores`` the confidences that were given.
    """

    version: str
    roles: tuple[str, ...] = ("answer",)
    since: float | None = None
    until: float | None = None
    requests: int = 0
    errors: int = 0
    latencies_ms: FloatArray = field(default_factory=_floats)
    labelled: int = 0
    correct: int = 0
    abs_errors: FloatArray = field(default_factory=_floats)
    predictions: StrArray = field(default_factory=lambda: np.asarray([], dtype=np.str_))
    scores: FloatArray = field(default_factory=_floats)
    labelled_outputs: ObjArray = field(default_factory=_objects)
    labels: ObjArray = field(default_factory=_objects)

    def task_parts(self, metric: str) -> tuple[FloatArray, FloatArray] | None:
        """Per labelled prediction: numerator and denominator of a task metric (``wer``,
        ``map_at_10`` ...), None for a metric that is not a ratio of per-row sums."""
        from rampup.tasks.family import family_of_metric

        fam = family_of_metric(metric)
        if metric in fam.pooled:
            return None
        if not self.labels.size:
            return _floats(), _floats()
        return fam.parts(list(self.labels), list(self.labelled_outputs))[metric]

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    @property
    def mean_abs_error(self) -> float | None:
        return float(self.abs_errors.mean()) if self.abs_errors.size else None

    def latency(self, q: float) -> float | None:
        """The q-quantile of latency in ms (linear interpolation), None without data."""
        return float(np.quantile(self.latencies_ms, q)) if self.latencies_ms.size else None

    @property
    def latency_mean(self) -> float | None:
        return float(self.latencies_ms.mean()) if self.latencies_ms.size else None

    def merge(self, other: WindowStats) -> WindowStats:
        """Both windows together (another time range or another replica)."""
        if other.version != self.version:
            raise ValidationError(
                f"cannot merge the window of version {other.version!r} into {self.version!r}",
                fix="merge windows of the same version only")
        return WindowStats(
            version=self.version,
            roles=tuple(dict.fromkeys(self.roles + other.roles)),
            since=_min(self.since, other.since), until=_max(self.until, other.until),
            requests=self.requests + other.requests, errors=self.errors + other.errors,
            latencies_ms=np.concatenate([self.latencies_ms, other.latencies_ms]),
            labelled=self.labelled + other.labelled, correct=self.correct + other.correct,
            abs_errors=np.concatenate([self.abs_errors, other.abs_errors]),
            predictions=np.concatenate([self.predictions, other.predictions]),
            scores=np.concatenate([self.scores, other.scores]),
            labelled_outputs=np.concatenate([self.labelled_outputs, other.labelled_outputs]),
            labels=np.concatenate([self.labels, other.labels]))

    __add__ = merge

    def summary(self) -> dict[str, Any]:
        """The headline numbers, JSON-ready."""
        return {"version": self.version, "roles": list(self.roles), "requests": self.requests,
                "errors": self.errors, "error_rate": self.error_rate,
                "labelled": self.labelled, "accuracy": self.accuracy,
                "latency_p50": self.latency(0.5), "latency_p99": self.latency(0.99)}


@dataclass(frozen=True, eq=False)
class PairedStats:
    """A shadow candidate and the primary on the same requests, aligned by position.

    ``primary_preds``/``candidate_preds`` hold the raw outputs (for a ``human`` primary:
    the human decision, i.e. the label); scores are NaN where missing; ``labels`` holds
    None where no label arrived. Not paired, only counted: shadow rows without their
    answer in the window (``unmatched``), failed shadow calls (``candidate_errors``),
    failed primary answers (``primary_errors``), and requests still waiting for a human
    decision (``pending``).
    """

    candidate: str
    primary: str
    primary_preds: ObjArray = field(default_factory=_objects)
    candidate_preds: ObjArray = field(default_factory=_objects)
    primary_scores: FloatArray = field(default_factory=_floats)
    candidate_scores: FloatArray = field(default_factory=_floats)
    labels: ObjArray = field(default_factory=_objects)
    unmatched: int = 0
    candidate_errors: int = 0
    primary_errors: int = 0
    pending: int = 0

    @property
    def n(self) -> int:
        return int(self.primary_preds.size)

    @property
    def human(self) -> bool:
        return self.primary == HUMAN

    def agreement(self) -> Agreement:
        acc = Agreement()
        acc.update(list(self.primary_preds), list(self.candidate_preds),
                   _none_for_nan(self.primary_scores), _none_for_nan(self.candidate_scores),
                   list(self.labels))
        return acc

    def abs_diffs(self) -> FloatArray:
        """``|candidate - primary|`` for the pairs where both outputs are numbers."""
        out = [abs(c - p) for p, c in ((as_number(a), as_number(b)) for a, b in
                                       zip(self.primary_preds, self.candidate_preds,
                                           strict=True))
               if p is not None and c is not None]
        return _floats(out)

    def merge(self, other: PairedStats) -> PairedStats:
        if (other.candidate, other.primary) != (self.candidate, self.primary):
            raise ValidationError(
                f"cannot merge pairs {other.candidate!r} vs {other.primary!r} into "
                f"{self.candidate!r} vs {self.primary!r}",
                fix="merge paired windows of the same candidate and primary only")
        return replace(
            self,
            primary_preds=np.concatenate([self.primary_preds, other.primary_preds]),
            candidate_preds=np.concatenate([self.candidate_preds, other.candidate_preds]),
            primary_scores=np.concatenate([self.primary_scores, other.primary_scores]),
            candidate_scores=np.concatenate([self.candidate_scores, other.candidate_scores]),
            labels=np.concatenate([self.labels, other.labels]),
            unmatched=self.unmatched + other.unmatched,
            candidate_errors=self.candidate_errors + other.candidate_errors,
            primary_errors=self.primary_errors + other.primary_errors,
            pending=self.pending + other.pending)

    __add__ = merge


def _none_for_nan(a: FloatArray) -> list[float | None]:
    return [None if math.isnan(x) else float(x) for x in a]


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


# -- rows ---------------------------------------------------------------------------------

class _Pred(NamedTuple):
    """The parts of a logged prediction row the measurements need."""

    id: str
    request_id: str
    ts: float
    version: str
    role: str
    latency_ms: float
    failed: bool
    has_output: bool
    prediction: Any
    score: float | None
    label: Any

    @classmethod
    def of(cls, row: dict[str, Any]) -> _Pred:
        raw = row.get("outputs")
        out = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        pred: Any = out
        score = row.get("confidence")
        if isinstance(out, dict) and "prediction" in out:
            pred = out["prediction"]
            if score is None and isinstance(out.get("confidence"), int | float):
                score = out["confidence"]
        return cls(str(row["id"]), str(row["request_id"]), float(row["ts"]),
                   str(row.get("version", "")), str(row.get("role", "answer")),
                   float(row["latency_ms"]), row.get("error") is not None, out is not None,
                   pred, None if score is None else float(score), row.get("label"))


class WindowBuilder:
    """Accumulates rows of one version into a :class:`WindowStats` (pure)."""

    def __init__(self, version: str, roles: tuple[str, ...] = ("answer",),
                 since: float | None = None, until: float | None = None) -> None:
        self.version, self.roles, self.since, self.until = version, roles, since, until
        self.requests = self.errors = self.labelled = self.correct = 0
        self.latencies: list[float] = []
        self.abs_errors: list[float] = []
        self.predictions: list[str] = []
        self.scores: list[float] = []
        self.labelled_outputs: list[Any] = []
        self.labels: list[Any] = []

    def add_row(self, row: dict[str, Any], label: Any = None) -> None:
        """Count one prediction-log row (as ``Database.predictions.iter_predictions``
        yields it)."""
        self.add(_Pred.of(row), label)

    def add(self, p: _Pred, label: Any = None) -> None:
        """Count one row; a given ``label`` stands in for a missing one (a shadow row takes
        the label of its answer)."""
        label = p.label if p.label is not None else label
        self.requests += 1
        self.latencies.append(p.latency_ms)
        if p.failed:
            self.errors += 1
            return
        if not p.has_output:
            return
        pc = canonical(p.prediction)
        self.predictions.append(pc)
        if p.score is not None and math.isfinite(p.score):
            self.scores.append(p.score)
        if label is not None:
            self.labelled += 1
            self.correct += pc == canonical(label)
            self.labelled_outputs.append(p.prediction)
            self.labels.append(label)
            pn, ln = as_number(p.prediction), as_number(label)
            if pn is not None and ln is not None:
                self.abs_errors.append(abs(pn - ln))

    def build(self) -> WindowStats:
        return WindowStats(
            self.version, self.roles, self.since, self.until, self.requests, self.errors,
            _floats(self.latencies), self.labelled, self.correct, _floats(self.abs_errors),
            np.asarray(self.predictions, dtype=np.str_), _floats(self.scores),
            _objects(self.labelled_outputs), _objects(self.labels))


# -- reading the log ----------------------------------------------------------------------

def measure(store: Database, model: str, version: str, *, since: float, until: float,
            roles: Sequence[str] = ("answer",), slack_s: float = SLACK_S) -> WindowStats:
    """Stats of ``version``'s rows with the given roles logged in ``[since, until)``."""
    roles = tuple(roles)
    builder = WindowBuilder(version, roles, since, until)
    if "shadow" not in roles:
        for chunk in store.predictions.iter_predictions(model, since=since, until=until,
                                                        version=version,
                                            roles=roles):
            for row in chunk:
                builder.add(_Pred.of(row))
        return builder.build()

    def mine(p: _Pred) -> bool:
        return p.version == version and p.role in roles and p.ts >= since

    # rows are counted in log order (ts, id), whenever their pairing is settled
    rows: list[tuple[tuple[float, str], _Pred, Any]] = []

    def on_pair(answer: _Pred | None, shadow: _Pred) -> None:
        rows.append(((shadow.ts, shadow.id), shadow, None if answer is None else answer.label))

    _join(store, model, since=since, until=until, slack_s=slack_s,
          is_shadow=lambda p: mine(p) and p.role == "shadow",
          keep_answer=lambda p: p.label is not None, on_pair=on_pair,
          on_other=lambda p: rows.append(((p.ts, p.id), p, None)) if mine(p) else None,
          roles=tuple(dict.fromkeys((*roles, "answer"))))
    for _, p, label in sorted(rows, key=lambda x: x[0]):
        builder.add(p, label)
    return builder.build()


def paired(store: Database, model: str, candidate: str, primary: str, *, since: float,
           until: float, slack_s: float = SLACK_S) -> PairedStats:
    """Pair ``candidate``'s shadow rows in ``[since, until)`` with ``primary``'s answers.

    With the built-in ``human`` primary, the primary's output is the label of the answer
    (the human decision, sent as feedback), whichever version logged the answer.
    """
    human = primary == HUMAN
    counts = {"unmatched": 0, "candidate_errors": 0, "primary_errors": 0, "pending": 0}
    suffix = f"~{candidate}"
    # pairs are kept in the log order (ts, id) of their shadow rows
    pairs: list[tuple[tuple[float, str], Any, float, Any, float, Any]] = []

    def on_pair(answer: _Pred | None, shadow: _Pred) -> None:
        if answer is None:
            counts["unmatched"] += 1
        elif shadow.failed or not shadow.has_output:
            counts["candidate_errors"] += 1
        elif human and answer.label is None:
            counts["pending"] += 1
        elif not human and (answer.failed or not answer.has_output):
            counts["primary_errors"] += 1
        else:
            pairs.append(((shadow.ts, shadow.id),
                          answer.label if human else answer.prediction,
                          math.nan if human or answer.score is None else answer.score,
                          shadow.prediction,
                          math.nan if shadow.score is None else shadow.score,
                          answer.label if answer.label is not None else shadow.label))

    _join(store, model, since=since, until=until, slack_s=slack_s,
          is_shadow=lambda p: (p.role == "shadow" and p.version == candidate
                               and p.ts >= since and p.id.endswith(suffix)),
          keep_answer=lambda p: human or p.version == primary, on_pair=on_pair,
          on_other=None, roles=("answer", "shadow"))
    pairs.sort(key=lambda x: x[0])
    return PairedStats(candidate, primary, _objects([x[1] for x in pairs]),
                       _objects([x[3] for x in pairs]), _floats([x[2] for x in pairs]),
                       _floats([x[4] for x in pairs]), _objects([x[5] for x in pairs]),
                       **counts)


def _join(store: Database, model: str, *, since: float, until: float, slack_s: float,
          is_shadow: Callable[[_Pred], bool], keep_answer: Callable[[_Pred], bool],
          on_pair: Callable[[_Pred | None, _Pred], None],
          on_other: Callable[[_Pred], None] | None, roles: tuple[str, ...]) -> None:
    """Stream rows once, in time order, matching shadow rows with their answers.

    Answers wait up to ``slack_s`` for their shadow rows and shadow rows up to ``slack_s``
    for their answers, so memory stays bounded by what is logged in ``slack_s``.
    ``on_pair(None, shadow)`` reports a shadow row whose answer never came.
    """
    answers: dict[str, _Pred] = {}
    answer_order: deque[tuple[float, str]] = deque()
    shadows: dict[str, _Pred] = {}
    shadow_order: deque[tuple[float, str]] = deque()
    for chunk in store.predictions.iter_predictions(model, since=since - slack_s, until=until,
                                                    roles=roles):
        for row in chunk:
            p = _Pred.of(row)
            cutoff = p.ts - slack_s
            while answer_order and answer_order[0][0] < cutoff:
                answers.pop(answer_order.popleft()[1], None)
            while shadow_order and shadow_order[0][0] < cutoff:
                late = shadows.pop(shadow_order.popleft()[1], None)
                if late is not None:
                    on_pair(None, late)
            if is_shadow(p):
                answer_id = p.id.rpartition("~")[0]
                answer = answers.pop(answer_id, None)
                if answer is not None and answer.request_id == p.request_id:
                    on_pair(answer, p)
                else:
                    shadows[answer_id] = p
                    shadow_order.append((p.ts, answer_id))
                continue
            if p.role == "answer" and keep_answer(p):
                waiting = shadows.pop(p.id, None)
                if waiting is not None:
                    on_pair(p if waiting.request_id == p.request_id else None, waiting)
                else:
                    answers[p.id] = p
                    answer_order.append((p.ts, p.id))
            if on_other is not None:
                on_other(p)
    for shadow in shadows.values():
        on_pair(None, shadow)
