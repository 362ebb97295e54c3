"""The automation decision for one prediction: who decides, and does it go to review.

Pure: a level, the model's output and confidence, thresholds and a seeded audit draw in;
a :class:`Decision` out. The audit draw hashes ``(seed, prediction id)``, so the same
prediction is sampled the same way on every replica and in every rerun.

>>> from rampup.automation.spec import AutomationSpec
>>> spec = AutomationSpec(level="partial", threshold=0.8)
>>> decide(spec, "partial", 1, 0.95, "p1").status
'decided'
>>> d = decide(spec, "partial", 1, 0.6, "p2")
>>> d.status, d.decided_by, d.reason
('pending_review', 'human', 'low_confidence')
>>> decide(spec, "ai_assist", 1, 0.99, "p3").status
'suggestion'
>>> round(audit_draw(0, "abc"), 6) == round(audit_draw(0, "abc"), 6)
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rampup.automation.spec import AutomationSpec

REASONS = ("low_confidence", "audit", "assist", "shadow", "human_only")


@dataclass(frozen=True, slots=True)
class Decision:
    """``status`` and ``decided_by`` go into the response; ``reason`` says why the
    prediction becomes a review item (None: it does not); ``show`` whether the response
    carries the model's output."""

    status: str  # "decided" | "suggestion" | "pending_review"
    decided_by: str  # "model" | "human"
    reason: str | None = None
    show: bool = True


DECIDED = Decision("decided", "model")
AUDITED = Decision("decided", "model", "audit")
LOW_CONFIDENCE = Decision("pending_review", "human", "low_confidence")
ASSIST = Decision("suggestion", "human", "assist")
SHADOW = Decision("pending_review", "human", "shadow", show=False)
HUMAN_ONLY = Decision("pending_review", "human", "human_only", show=False)


def audit_draw(seed: int, prediction_id: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the prediction id."""
    h = hashlib.blake2b(f"{seed}:{prediction_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def decide(spec: AutomationSpec, level: str, prediction: Any, confidence: float | None,
           prediction_id: str) -> Decision:
    """The decision for one prediction at ``level`` (which may override ``spec.level``).

    At ``partial`` a missing confidence counts as not confident. Audit samples are drawn
    among model decisions at ``partial`` and ``full`` with probability ``audit_rate``.
    """
    if level == "full" or level == "partial":
        if level == "partial" and (confidence is None or confidence != confidence
                                   or confidence < spec.threshold_for(prediction)):
            return LOW_CONFIDENCE
        if spec.audit_rate > 0 and audit_draw(spec.seed, prediction_id) < spec.audit_rate:
            return AUDITED
        return DECIDED
    if level == "ai_assist":
        return ASSIST
    if level == "shadow":
        return SHADOW
    return HUMAN_ONLY


def sample_weight(decision: Decision, spec: AutomationSpec) -> float:
    """How many predictions a review item stands for: an audit sample stands for
    ``1 / audit_rate`` model decisions, every other item for itself."""
    if decision.reason == "audit" and spec.audit_rate > 0:
        return 1.0 / spec.audit_rate
    return 1.0
