"""Small real models over images, audio and vectors, registered by the tests as
``python`` flavor artifacts (``media_models.py:brightness`` ...)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Brightness:
    """Mean pixel value of a photo (0..255), a regression."""

    input_schema = [{"name": "photo", "dtype": "image", "max_pixels": 640 * 480},
                    {"name": "camera", "dtype": "str", "nullable": True}]
    output = {"kind": "number"}

    def predict(self, frame: Any) -> list[float]:
        return [float(img.pixels.mean()) for img in frame["photo"]]


class Loudness:
    """A 'transcript' of a clip: 'loud' or 'quiet' per half second, by RMS level."""

    input_schema = [{"name": "clip", "dtype": "audio", "max_seconds": 10,
                     "sample_rates": [16000, 8000]}]
    output = {"kind": "free", "task": "transcription"}

    def predict(self, frame: Any) -> list[str]:
        out = []
        for clip in frame["clip"]:
            x = clip.samples if clip.samples.ndim == 1 else clip.samples.mean(axis=1)
            half = clip.sample_rate // 2
            words = ["loud" if np.sqrt(np.mean(x[i:i + half] ** 2)) > 0.05 else "quiet"
                     for i in range(0, len(x), half)]
            out.append(" ".join(words))
        return out


class VectorSum:
    """The sum of a tensor plus the norm of an embedding."""

    input_schema = [{"name": "grid", "dtype": "tensor", "element": "float32",
                     "shape": [2, None]},
                    {"name": "vec", "dtype": "embedding", "length": 4},
                    {"name": "note", "dtype": "text", "nullable": True, "max_length": 200}]
    output = {"kind": "number"}

    def predict(self, frame: Any) -> list[float]:
        return [float(g.sum() + np.linalg.norm(v)) for g, v in zip(frame["grid"], frame["vec"],
                                                                    strict=True)]


brightness = Brightness()
loudness = Loudness()
vector_sum = VectorSum()
