"""An importable Python model for the ``package.module:Name`` form (tests only)."""

from __future__ import annotations

from typing import Any


class Scorer:
    """Scores applicants with a fixed rule; a classifier with probabilities."""

    feature_names = ["income", "age"]
    classes_ = ["approve", "reject"]

    def predict(self, frame: Any) -> list[str]:
        return ["reject" if p[1] > 0.5 else "approve" for p in self.predict_proba(frame)]

    def predict_proba(self, frame: Any) -> list[list[float]]:
        out = []
        for age in frame["age"].tolist():
            p = min(max((age - 18) / 62, 0.0), 1.0)
            out.append([1 - p, p])
        return out
