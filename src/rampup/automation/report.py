"""Automation metrics and reviewer consistency, computed from review items and labels.

Pure functions of plain rows (dicts as the store returns them). Label consistency reuses
:mod:`rampup.analysis.labels`; nothing is re-derived here.

>>> items = [{"reason": "low_confidence", "status": "decided", "created_at": 0.0,
...           "decided_at": 30.0, "suggestion": {"prediction": 1}, "final_label": 1},
...          {"reason": "audit", "status": "decided", "created_at": 0.0, "decided_at": 60.0,
...           "suggestion": {"prediction": 0}, "final_label": 1},
...          {"reason": "low_confidence", "status": "open", "created_at": 90.0,
...           "decided_at": None, "suggestion": {"prediction": 0}, "final_label": None}]
>>> m = automation_metrics(items, n_answered=10, now=100.0)
>>> m["automation_rate"], m["queue_length"], m["wait_s"]["p50"]
(0.8, 1, 45.0)
>>> m["accuracy"]["automated"]["value"], m["accuracy"]["model_on_reviewed"]["value"]
(0.0, 1.0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rampup.analysis.labels import Ratings, label_report
from rampup.automation.consensus import label_key
from rampup.drift.stats import wilson

ROUTED = ("low_confidence", "assist", "shadow", "human_only")  # humans decide these


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    a = np.asarray(values, dtype=float)
    p = np.percentile(a, [50, 90, 99])
    return {"p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2]), "max": float(a.max())}


def _rate(k: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "n": 0, "ci": None}
    lo, hi = wilson(k, n)
    return {"value": k / n, "n": n, "ci": [lo, hi]}


def _same(a: Any, b: Any) -> bool:
    return label_key(a) == label_key(b) or str(a) == str(b)


def _prediction(item: dict[str, Any]) -> Any:
    s = item.get("suggestion")
    return s.get("prediction") if isinstance(s, dict) else None


def automation_metrics(items: Sequence[dict[str, Any]], n_answered: int,
                       now: float) -> dict[str, Any]:
    """Automation rate, queue length, wait-time percentiles and accuracy of automated
    (audited) vs reviewed predictions, over the given items and answered count."""
    routed = sum(1 for i in items if i["reason"] in ROUTED)
    # Every routed item is an answered prediction; the log and the review items are
    # written by two writers, so for a moment the log can count fewer (the human version
    # serving everything showed an automation rate of -1.7%).
    n_answered = max(n_answered, routed)
    pending = [i for i in items if i["status"] in ("open", "disputed")]
    decided = [i for i in items if i["decided_at"] is not None]
    labelled = [i for i in decided if i["status"] == "decided" and _prediction(i) is not None]
    audits = [i for i in labelled if i["reason"] == "audit"]
    reviewed = [i for i in labelled if i["reason"] != "audit"]
    return {
        "answered": n_answered,
        "routed_to_humans": routed,
        "automation_rate": (n_answered - routed) / n_answered if n_answered else None,
        "queue_length": len(pending),
        "disputed": sum(1 for i in pending if i["status"] == "disputed"),
        "by_reason": dict(Counter(i["reason"] for i in items)),
        "by_status": dict(Counter(i["status"] for i in items)),
        "wait_s": percentiles([i["decided_at"] - i["created_at"] for i in decided]),
        "open_age_s": percentiles([now - i["created_at"] for i in pending]),
        "accuracy": {
            "automated": _rate(sum(_same(_prediction(i), i["final_label"]) for i in audits),
                               len(audits)),
            "model_on_reviewed": _rate(sum(_same(_prediction(i), i["final_label"])
                                           for i in reviewed), len(reviewed)),
        },
    }


def per_class_agreement(items: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Model-vs-human agreement per final (human) label, on decided items."""
    out: dict[str, list[int]] = {}
    for i in items:
        if i["status"] != "decided" or _prediction(i) is None:
            continue
        k = out.setdefault(str(i["final_label"]), [0, 0])
        k[0] += _same(_prediction(i), i["final_label"])
        k[1] += 1
    return {c: _rate(k, n) for c, (k, n) in sorted(out.items())}


def consistency(labels: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]],
                adjudicated: Sequence[dict[str, Any]] = (), *,
                uncertain: str | None = "uncertain") -> dict[str, Any]:
    """Reviewer agreement (percent, Cohen's kappa for two reviewers, Fleiss' kappa),
    confusion between reviewers, disputed items, human-level accuracy per reviewer and
    per class (against adjudicated labels where there are some, else against the other
    reviewers' majority), and model-vs-human agreement per class."""
    multi = Counter(r["item_id"] for r in labels)
    rows = [r for r in labels if multi[r["item_id"]] >= 2]
    out: dict[str, Any] = {"items_with_several_reviewers": len({r["item_id"] for r in rows}),
                           "model_vs_human": per_class_agreement(items)}
    if not rows:
        out["labels"] = None
        return out
    values = [orjson_text(r["label"]) for r in rows]
    r = Ratings.from_long([x["item_id"] for x in rows], [x["reviewer"] for x in rows], values)
    reference = {a["item_id"]: orjson_text(a["label"]) for a in adjudicated} or None
    final = {i["id"]: orjson_text(i["final_label"]) for i in items
             if i["final_label"] is not None}
    tags = {f"class={c}": np.array([final.get(x["item_id"]) == c for x in rows])
            for c in sorted(set(final.values()))}
    unc = (orjson_text(uncertain),) if uncertain else ()
    out["labels"] = label_report(r, reference=reference, tags=tags, uncertain=unc).to_dict()
    return out


def orjson_text(value: Any) -> str:
    """A label as text for the agreement tables (strings stay as they are)."""
    return value if isinstance(value, str) else label_key(value).decode()


def _pct(x: Any) -> str:
    return "-" if not isinstance(x, int | float) else f"{x:.1%}"


def status_line(m: dict[str, Any]) -> str:
    """One line of a model's automation metrics (as :func:`automation_metrics` plus
    ``model`` and ``level`` give them; the CLI and the demo print it).

    >>> status_line({"model": "loan", "level": "partial", "automation_rate": 0.8,
    ...              "queue_length": 3, "wait_s": {"p50": 12.0},
    ...              "accuracy": {"automated": {"value": 0.97}}})
    'loan [partial] automated 80.0% · queue 3 · wait p50 12 s · audited accuracy 97.0%'
    """
    wait = m.get("wait_s") or {}
    p50 = wait.get("p50")
    auto = (m.get("accuracy") or {}).get("automated") or {}
    return (f"{m['model']} [{m['level']}] automated {_pct(m.get('automation_rate'))}"
            f" · queue {m.get('queue_length', 0)}"
            f" · wait p50 {'-' if p50 is None else f'{p50:.0f}'} s"
            f" · audited accuracy {_pct(auto.get('value'))}")
