"""A check's verdict and what it was based on: the result type the judge
(:mod:`rampup.rollout.judge`) and the task checks (:mod:`rampup.rollout.task_checks`) both
return, below both."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CheckResult", "Verdict"]

Verdict = Literal["pass", "fail", "wait"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check with what it was based on (kept with the rollout).

    ``margin_lower``/``margin_upper``: the always-valid interval for ``metric -
    threshold`` at confidence ``1 - alpha`` (None when the check was not judged).
    """

    check_text: str
    verdict: Verdict
    value: float | None
    baseline_value: float | None
    threshold: float | None
    p_value: float | None
    n: int
    n_baseline: int | None
    reason: str
    margin_lower: float | None = None
    margin_upper: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check_text, "verdict": self.verdict, "value": self.value,
                "baseline_value": self.baseline_value, "threshold": self.threshold,
                "p_value": self.p_value, "n": self.n, "n_baseline": self.n_baseline,
                "reason": self.reason, "margin": None if self.margin_lower is None else
                [_finite(self.margin_lower), _finite(self.margin_upper)]}


def _finite(x: float | None) -> float | None:
    """JSON has no infinity: an unbounded end is null."""
    return None if x is None or not math.isfinite(x) else x
