"""Prediction rows as a :class:`~rampup.rollout.tail.LogTail` takes them: column by column.

:func:`decode` turns the tuples :meth:`Predictions.tail_rows` yields (``TAIL_COLUMNS``
order) into a :class:`Batch` of columns, parsing each row's outputs once, as
:meth:`rampup.rollout.window._Pred.of` and :func:`rampup.drift.source.decode_rows` read
them (the equivalence is property-tested through the windows): no dictionary and no
object per row, so a tick's new rows cost a few microseconds each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

_NAN = float("nan")
ROLES = ("answer", "shadow")
#: what ``Predictions.tail_rows`` yields per row, in this order
TAIL_COLUMNS = ("id", "request_id", "ts", "version", "role", "outputs", "confidence",
                "latency_ms", "error")


@dataclass
class Batch:
    """New rows, a list per column (``outs``: the parsed outputs); with ``concept``, the
    columns :func:`rampup.drift.source.decode_rows` reads too."""

    ids: list[str]
    request_ids: list[str]
    ts: list[float]
    versions: list[str]
    shadow: list[bool]
    latency: list[float]
    failed: list[bool]
    has_out: list[bool]
    score: list[float]
    pred: list[Any]
    label_ids: list[int | None] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    # concept (decode_rows): prediction, its confidence, probabilities, failure
    dpred: list[Any] = field(default_factory=list)
    dconf: list[float] = field(default_factory=list)
    probs: list[Any] = field(default_factory=list)
    dfailed: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, order: Sequence[int]) -> Batch:
        """The rows in ``order``."""
        def pick(xs: list[Any]) -> list[Any]:
            return [xs[i] for i in order] if xs else xs

        return Batch(*(pick(getattr(self, f)) for f in self.__dataclass_fields__))

    def sort(self) -> Batch:
        """The rows in ``(ts, id)`` order (the order a tail holds)."""
        step = np.diff(np.asarray(self.ts, dtype=np.float64))
        if (step > 0).all():  # a range read comes in order (checked, not assumed)
            return self
        keys = list(zip(self.ts, self.ids, strict=True))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return self if all(i == k for k, i in enumerate(order)) else self.take(order)

    def with_labels(self, labels: dict[str, tuple[int, Any]]) -> Batch:
        """Each row's latest label (``(feedback id, value)`` by prediction id) set."""
        got = [labels.get(i) for i in self.ids]
        self.label_ids = [None if g is None else g[0] for g in got]
        self.labels = [None if g is None else g[1] for g in got]
        return self


def decode(rows: Sequence[Sequence[Any]], *, concept: bool = False) -> Batch:
    """Rows in ``TAIL_COLUMNS`` order (answers and shadows) → a :class:`Batch`."""
    if not rows:
        return Batch([], [], [], [], [], [], [], [], [], [])
    ids, reqs, ts, versions, roles, raws, confs, lats, errors = (
        list(c) for c in zip(*rows, strict=True))
    loads = orjson.loads
    outs = [loads(r) if r else None for r in raws]
    preds: list[Any] = []
    scores: list[float] = []
    for out, conf in zip(outs, confs, strict=True):
        if isinstance(out, dict) and "prediction" in out:
            preds.append(out["prediction"])
            if conf is None:
                c = out.get("confidence")
                if isinstance(c, int | float):
                    conf = c
        else:
            preds.append(out)
        scores.append(_NAN if conf is None else float(conf))
    b = Batch([str(i) for i in ids], [str(r) for r in reqs], [float(t) for t in ts],
              [str(v) for v in versions], [r == "shadow" for r in roles],
              [float(x) for x in lats], [e is not None for e in errors],
              [o is not None for o in outs], scores, preds)
    if concept:
        for out, conf, err in zip(outs, confs, errors, strict=True):
            probs = None
            if isinstance(out, dict):
                pred = out.get("prediction")
                p = out.get("probabilities")
                probs = p if isinstance(p, dict) else None
                conf = conf if conf is not None else out.get("confidence")
            else:
                pred = out
            b.dpred.append(pred)
            b.probs.append(probs)
            b.dconf.append(float(conf) if isinstance(conf, int | float) else _NAN)
            b.dfailed.append(bool(err))
    return b


__all__ = ["ROLES", "TAIL_COLUMNS", "Batch", "decode"]
