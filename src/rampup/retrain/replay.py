"""Replay (offline shadow): the last N logged requests through a candidate version.

Before any live traffic sees a candidate, run it on what production was asked recently
and report how often it agrees with what production answered, and its accuracy next to
production's where labels arrived: a shadow report in seconds instead of hours.

>>> r = summarise([1, 0, 1, 1], [1, 1, 1, None], [1, 1, None, 1], versions=["v1"] * 4)
>>> r.compared, r.agreement, r.labelled, r.candidate_accuracy, r.production_accuracy
(3, 0.6666666666666666, 2, 1.0, 0.5)
>>> same(1, 1.0), same("1", 1), same(None, None)
(True, True, False)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import pandas as pd

from rampup.errors import ValidationError
from rampup.registry.predictor import PredictionBatch
from rampup.registry.registry import Registry

Progress = Callable[[int, int], None]
CHUNK = 1000


@dataclass(frozen=True)
class ReplayReport:
    model: str = ""
    version: str = ""
    requests: int = 0
    compared: int = 0  # both production and the candidate answered
    invalid: int = 0  # inputs the candidate's schema refuses
    agreement: float | None = None
    labelled: int = 0
    candidate_accuracy: float | None = None
    production_accuracy: float | None = None
    production_versions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _norm(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def same(a: Any, b: Any) -> bool:
    """Equal as labels (``1``, ``1.0`` and ``"1"`` are the same class); None never is."""
    return a is not None and b is not None and _norm(a) == _norm(b)


def summarise(production: Sequence[Any], candidate: Sequence[Any], labels: Sequence[Any], *,
              versions: Sequence[str], max_examples: int = 10) -> ReplayReport:
    """Agreement and accuracy from aligned lists (None: no answer / no label)."""
    compared = agree = labelled = cand_right = prod_right = 0
    examples: list[dict[str, Any]] = []
    for i, (p, c, y) in enumerate(zip(production, candidate, labels, strict=True)):
        if p is None or c is None:
            continue
        compared += 1
        agree += same(p, c)
        if not same(p, c) and len(examples) < max_examples:
            examples.append({"row": i, "production": p, "candidate": c, "label": y})
        if y is not None:
            labelled += 1
            cand_right += same(c, y)
            prod_right += same(p, y)
    return ReplayReport(
        requests=len(production), compared=compared,
        agreement=agree / compared if compared else None, labelled=labelled,
        candidate_accuracy=cand_right / labelled if labelled else None,
        production_accuracy=prod_right / labelled if labelled else None,
        production_versions=dict(Counter(versions)), examples=examples)


def _prediction(outputs: Any) -> Any:
    raw = orjson.loads(outputs) if outputs else None
    return raw.get("prediction") if isinstance(raw, dict) else raw


def replay(registry: Registry, model: str, version: str, *, last: int = 1000,
           progress: Progress | None = None) -> ReplayReport:
    """Run ``model@version`` on the inputs of the model's last ``last`` answered requests."""
    from rampup.batch.validate import validate_frame

    if last < 1:
        raise ValidationError(f"--last must be at least 1, not {last}", field="last",
                              fix="replay at least one request, e.g. --last 1000")
    started = time.perf_counter()
    record = registry.get(model, version)
    predictor = registry.load(record)
    rows = registry.store.predictions.recent_predictions(model, last, roles=("answer",))
    if not rows:
        raise ValidationError(f"{model} has no logged requests to replay",
                              fix="send traffic first (the prediction log is empty)")
    inputs = [orjson.loads(r["inputs"]) if r.get("inputs") else {} for r in rows]
    candidate: list[Any] = [None] * len(rows)
    invalid = 0
    total = len(rows)
    for start in range(0, total, CHUNK):
        part = inputs[start:start + CHUNK]
        checked = validate_frame(pd.DataFrame.from_records(part), predictor.input_schema)
        good = checked.good
        invalid += int((~good).sum())
        if checked.batch.n:
            out: PredictionBatch = predictor.predict(checked.batch)
            at = [start + i for i, ok in enumerate(good) if ok]
            for i, pred in zip(at, out.predictions, strict=True):
                candidate[i] = pred
        if progress is not None:
            progress(min(start + CHUNK, total), total)
    production = [None if r.get("error") else _prediction(r.get("outputs")) for r in rows]
    labels = [r.get("label") for r in rows]
    report = summarise(production, candidate, labels, versions=[r["version"] for r in rows])
    for ex in report.examples:
        ex["request_id"] = rows[ex.pop("row")]["id"]
    return ReplayReport(**{**asdict(report), "model": model, "version": version,
                           "invalid": invalid,
                           "seconds": round(time.perf_counter() - started, 3)})

