"""Light audio models for the dashboard's media tests: a loudness detector and a fixed
transcriber, as a ``listen`` pipeline (``loud`` -> ``echo``)."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np

AUDIO = [{"name": "audio", "dtype": "audio"}]


def tone(amplitude: float, seconds: float = 0.5, hz: float = 440.0) -> bytes:
    """A sine tone as 16 kHz 16-bit mono WAV."""
    t = np.arange(int(16000 * seconds)) / 16000.0
    pcm = (amplitude * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def _rms(value: Any) -> float:
    x = np.asarray(value.samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x ** 2)))


class Loud:
    input_schema = AUDIO
    classes_ = ["quiet", "loud"]

    def predict(self, x: Any) -> list[str]:
        return [self.classes_[_rms(v) > 0.05] for v in x["audio"]]

    def predict_proba(self, x: Any) -> list[list[float]]:
        return [[0.0, 1.0] if _rms(v) > 0.05 else [1.0, 0.0] for v in x["audio"]]


class Echo:
    input_schema = AUDIO
    output = {"kind": "free", "task": "transcription"}

    def predict(self, x: Any) -> list[str]:
        return ["hello there"] * len(x["audio"])
