"""A Python model for the privacy tests: takes personal fields as inputs, scores by age,
and (like real code) quotes an input in its error message when it fails."""

from __future__ import annotations

import pandas as pd


class Scorer:
    input_schema = {"features": [
        {"name": "age", "dtype": "int"},
        {"name": "name", "dtype": "str"},
        {"name": "email", "dtype": "str"},
        {"name": "ssn", "dtype": "str", "nullable": True},
    ], "allow_extra": False}
    classes_ = [0, 1]

    def predict_proba(self, frame: pd.DataFrame) -> list[list[float]]:
        out = []
        for age, email in zip(frame["age"], frame["email"], strict=True):
            if age < 0:
                raise ValueError(f"cannot score {email}: negative age")
            p = min(max((age - 18) / 60, 0.0), 1.0)
            out.append([1 - p, p])
        return out

    def predict(self, frame: pd.DataFrame) -> list[int]:
        return [int(p[1] >= 0.5) for p in self.predict_proba(frame)]
