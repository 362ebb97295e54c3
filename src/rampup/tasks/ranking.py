"""Ranking metrics of top-k lists: MRR, recall@k, NDCG@k and mAP@k.

A prediction is a ranked list of item ids (best first), or a list of ``{"id", "score"}``
objects (sorted here by score, highest first; ties keep the given order). A label is the
list of relevant ids, or a mapping ``id -> graded relevance`` (NDCG uses the grades;
the other metrics count an id as relevant when its grade is positive).

Definitions, per query, averaged over queries that have at least one relevant item
(a query with none is left out: no metric is defined for it):

- reciprocal rank: 1 / rank of the first relevant id in the whole returned list
  (0 when none is returned); MRR is its mean;
- recall@k: relevant ids in the top k / relevant ids;
- NDCG@k: DCG@k / ideal DCG@k, DCG@k = sum over the top k of gain / log2(rank + 1),
  gain = the relevance grade (linear gain, as scikit-learn's ``ndcg_score``);
- AP@k: sum over ranks i <= k holding a relevant id of precision@i, divided by
  **min(k, number of relevant ids)** — so a perfect top k scores 1 even when more ids
  are relevant than fit in it; mAP@k is its mean. With k at least the list length this is
  the ordinary average precision (scikit-learn's ``label_ranking_average_precision_score``
  when every item is ranked).

>>> r = ranking_stats([["a", "c"]], [["b", "a", "c"]], k=2)
>>> r.rr.tolist(), r.recall.tolist(), round(float(r.ap[0]), 3)
([0.5], [0.5], 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
DEFAULT_K = 10


def ranked_ids(prediction: Any) -> list[str]:
    """The ids of a prediction in rank order (ids compared as text)."""
    if isinstance(prediction, dict):
        prediction = prediction.get("items", prediction.get("ranking"))
    if prediction is None:
        return []
    if not isinstance(prediction, list | tuple):
        raise ValidationError(f"ranking {prediction!r} is not a list",
                              fix='return a list of ids or of {"id": ..., "score": ...}')
    if prediction and all(isinstance(p, dict) for p in prediction):
        if any("id" not in p for p in prediction):
            raise ValidationError("a ranked item has no 'id'",
                                  fix='give each item as {"id": ..., "score": ...}')
        order = sorted(range(len(prediction)),
                       key=lambda i: -float(prediction[i].get("score", 0.0)))
        return [str(prediction[i]["id"]) for i in order]
    return [str(p) for p in prediction]


def relevance(label: Any) -> dict[str, float]:
    """``id -> grade`` from a label: a list of relevant ids (grade 1) or a mapping."""
    if label is None:
        return {}
    if isinstance(label, Mapping):
        try:
            return {str(k): float(v) for k, v in label.items()}
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"relevance grades {dict(label)!r} are not numbers",
                                  fix='map each id to a number, e.g. {"a": 2, "b": 1}') from exc
    if isinstance(label, str | bytes) or not isinstance(label, Sequence):
        raise ValidationError(f"ranking label {label!r} is not a list of relevant ids",
                              fix='give the relevant ids as a list, e.g. ["a", "b"]')
    return {str(v): 1.0 for v in label}


@dataclass(frozen=True, eq=False)
class RankingStats:
    """Per query: reciprocal rank, recall@k, NDCG@k, AP@k; ``valid`` marks queries with
    a relevant item (the others hold 0 and are left out of every mean)."""

    k: int
    rr: FloatArray
    recall: FloatArray
    ndcg: FloatArray
    ap: FloatArray
    valid: npt.NDArray[np.bool_]


def _one(rel: dict[str, float], ids: list[str], k: int) -> tuple[float, float, float, float]:
    relevant = {i for i, g in rel.items() if g > 0}
    if not relevant:
        return 0.0, 0.0, 0.0, 0.0
    rr = next((1.0 / (i + 1) for i, x in enumerate(ids) if x in relevant), 0.0)
    top = ids[:k]
    hits = [x in relevant for x in top]
    recall = sum(hits) / len(relevant)
    dcg = sum(rel.get(x, 0.0) / math.log2(i + 2) for i, x in enumerate(top))
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    found, ap = 0, 0.0
    for i, h in enumerate(hits):
        if h:
            found += 1
            ap += found / (i + 1)
    return rr, recall, dcg / idcg, ap / min(k, len(relevant))


def ranking_stats(labels: Sequence[Any], predictions: Sequence[Any], *,
                  k: int = DEFAULT_K) -> RankingStats:
    """Per-query values (see the module docstring)."""
    if k < 1:
        raise ValidationError(f"k = {k} is not a cut-off", fix="use k >= 1, e.g. 10")
    if len(labels) != len(predictions):
        raise ValidationError(f"{len(labels)} labels but {len(predictions)} rankings",
                              fix="give one ranking per label")
    rows = []
    valid = []
    for label, pred in zip(labels, predictions, strict=True):
        rel = relevance(label)
        valid.append(any(g > 0 for g in rel.values()))
        rows.append(_one(rel, ranked_ids(pred), k))
    a = np.asarray(rows, dtype=np.float64).reshape(len(rows), 4)
    return RankingStats(k, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.asarray(valid, dtype=bool))


def _mean(values: FloatArray, valid: npt.NDArray[np.bool_]) -> float:
    return float(values[valid].mean()) if valid.any() else float("nan")


def ranking_metrics(labels: Sequence[Any], predictions: Sequence[Any], *,
                    k: int = DEFAULT_K) -> dict[str, float]:
    """``mrr``, ``recall_at_k``, ``ndcg_at_k``, ``map_at_k`` (k written out, e.g.
    ``ndcg_at_10``) over the queries with a relevant item.

    >>> m = ranking_metrics([["a"], ["b"]], [["a", "b"], ["a", "b"]], k=1)
    >>> m["mrr"], m["recall_at_1"], m["map_at_1"]
    (0.75, 0.5, 0.5)
    """
    s = ranking_stats(labels, predictions, k=k)
    return {"mrr": _mean(s.rr, s.valid), f"recall_at_{k}": _mean(s.recall, s.valid),
            f"ndcg_at_{k}": _mean(s.ndcg, s.valid), f"map_at_{k}": _mean(s.ap, s.valid)}
