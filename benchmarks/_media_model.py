"""The image model of benchmarks/unstructured.py: mean brightness of a photo."""

from __future__ import annotations

from typing import Any


class Brightness:
    input_schema = [{"name": "photo", "dtype": "image"}]
    output = {"kind": "number"}

    def predict(self, frame: Any) -> list[float]:
        return [float(img.pixels.mean()) for img in frame["photo"]]


brightness = Brightness()
