"""Python-flavor models for the load test tests: a fast one and a clearly slow one."""

from __future__ import annotations

import time
from typing import Any


class Fast:
    feature_names = ["x", "kind"]

    def predict(self, frame: Any) -> list[float]:
        return [float(v) * 2 for v in frame["x"].tolist()]


class Slow(Fast):
    """200 ms a call: four times a 50 ms SLO, however the machine is loaded."""

    def predict(self, frame: Any) -> list[float]:
        time.sleep(0.2)
        return super().predict(frame)
