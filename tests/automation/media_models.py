"""Models over a photo and a clip for the review page's media tests (``python`` flavor)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Shade:
    """``dark`` or ``light`` by the photo's mean pixel value, with a probability."""

    input_schema = [{"name": "photo", "dtype": "image", "max_pixels": 640 * 480}]
    classes_ = ["dark", "light"]

    def predict_proba(self, frame: Any) -> list[list[float]]:
        out = []
        for img in frame["photo"]:
            p = float(np.clip(img.pixels.mean() / 255.0, 0.0, 1.0))
            out.append([1.0 - p, p])
        return out

    def predict(self, frame: Any) -> list[str]:
        return [self.classes_[int(np.argmax(p))] for p in self.predict_proba(frame)]


class Ears:
    """A 'transcript': 'loud' or 'quiet' per half second, by RMS level."""

    input_schema = [{"name": "clip", "dtype": "audio", "max_seconds": 10}]
    output = {"kind": "free", "task": "transcription"}

    def predict(self, frame: Any) -> list[str]:
        out = []
        for c in frame["clip"]:
            x = c.samples if c.samples.ndim == 1 else c.samples.mean(axis=1)
            half = c.sample_rate // 2
            out.append(" ".join("loud" if np.sqrt(np.mean(x[i:i + half] ** 2)) > 0.05
                                else "quiet" for i in range(0, len(x), half)))
        return out


class Spots:
    """Detections on a photo: a confident 'scratch' box and an unsure 'dent' box."""

    input_schema = [{"name": "photo", "dtype": "image", "max_pixels": 640 * 480}]
    output = {"kind": "free", "task": "detection"}

    def predict(self, frame: Any) -> list[list[dict[str, Any]]]:
        return [[{"box": [2, 2, 20, 6], "class": "scratch", "score": 0.9},
                 {"box": [30, 20, 40, 30], "class": "dent", "score": 0.4}]
                for _ in frame["photo"]]


shade = Shade()
spots = Spots()
ears = Ears()
