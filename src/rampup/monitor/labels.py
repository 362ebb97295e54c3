"""Feedback (labels and user events) applied to the window of the prediction it is about.

Pure: the caller looks up the prediction rows (``Database.predictions.feedback_targets``) and the
label history (``Database.feedback.label_history``). A label counts for the answering
prediction and for every shadow prediction of the same record, so a candidate's
accuracy is measured before it answers. A label that corrects an earlier one retracts
that one first. Events count for the answering prediction only (the user saw that one).

>>> from rampup.monitor.features import VersionInfo
>>> info = VersionInfo.from_parts({}, {"kind": "class"}, None)
>>> agg = WindowAggregate()
>>> target = {"id": "p1", "role": "answer", "outputs": '{"prediction": 1}'}
>>> apply_label(agg, target, info, label=1, previous=None)
>>> apply_label(agg, target, info, label=0, previous=1)  # corrected
>>> agg.performance.labelled, agg.performance.accuracy()
(1, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.features import VersionInfo
from rampup.monitor.outputs import is_empty, is_number


def prediction_of(outputs: Any) -> Any:
    """The ``prediction`` of a logged output (JSON text or already parsed); None if none."""
    if outputs is None:
        return None
    if isinstance(outputs, str | bytes):
        try:
            outputs = orjson.loads(outputs)
        except orjson.JSONDecodeError:
            return None
    if isinstance(outputs, dict):
        if outputs.get("status") == "pending_human":
            return None
        return outputs.get("prediction")
    return outputs


def _regression(info: VersionInfo, label: Any, prediction: Any) -> bool:
    if info.output_kind == "number":
        return True
    return info.output_kind == "free" and is_number(label) and is_number(prediction)


def _add(agg: WindowAggregate, info: VersionInfo, label: Any, prediction: Any,
         sign: int) -> None:
    perf = agg.performance
    if label is None or (is_empty(prediction) and info.output_task != "transcription"):
        perf.add_unscored(sign)
        return
    if info.output_task is not None:  # WER, MRR, detection recall ... as sums
        from rampup.errors import ValidationError
        from rampup.tasks.family import family

        fam = family(info.output_task)
        try:
            parts = fam.parts([label], ["" if prediction is None else prediction])
        except ValidationError:  # a label or output the task cannot read
            perf.add_unscored(sign)
            return
        perf.add_task({m: (float(n[0]), float(d[0])) for m, (n, d) in parts.items()}, sign)
        return
    regression = _regression(info, label, prediction)
    if regression:
        try:
            ok = math.isfinite(float(label)) and math.isfinite(float(prediction))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            perf.add_unscored(sign)
            return
    perf.add(label, prediction, regression=regression, sign=sign)


def apply_label(agg: WindowAggregate, target: dict[str, Any], info: VersionInfo, *,
                label: Any, previous: Any = None) -> None:
    """Count ``label`` for the prediction ``target``; retract ``previous`` (a label is
    never None) if given."""
    prediction = prediction_of(target.get("outputs"))
    if previous is not None:
        _add(agg, info, previous, prediction, -1)
    _add(agg, info, label, prediction, 1)


def apply_event(agg: WindowAggregate, name: str) -> None:
    agg.events.add_counts({name: 1})


def previous_label(history: list[tuple[int, str, Any]], dedupe_key: str) -> Any:
    """The label this one replaces (the one stored just before it), or None."""
    keys = [k for _, k, _ in history]
    if dedupe_key not in keys:
        return None
    i = keys.index(dedupe_key)
    return history[i - 1][2] if i > 0 else None
