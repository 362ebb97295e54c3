"""Two small stage models for pipeline tests (Python flavor, ``module:Object``).

``Vad`` is a voice-activity classifier: ``speech`` when ``energy`` is high enough,
with probabilities (so the next stage can read ``vad.probabilities.speech``). ``Asr``
"transcribes": ``words:<n>`` with ``n = round(audio_len * speech_ratio)``; it raises on
``audio_len == 666`` (a stage failure). ``Vad2`` / ``Asr2`` are second versions.
"""

from __future__ import annotations

import math
from typing import Any


def _p(energy: float, shift: float = 0.0) -> float:
    return 1.0 / (1.0 + math.exp(-10.0 * (energy - 0.5 - shift)))


class Vad:
    input_schema = [{"name": "energy", "dtype": "float"}]
    classes_ = ["no_speech", "speech"]
    shift = 0.0

    def predict(self, x: Any) -> list[str]:
        return ["speech" if _p(e, self.shift) >= 0.5 else "no_speech" for e in x["energy"]]

    def predict_proba(self, x: Any) -> list[list[float]]:
        return [[1.0 - _p(e, self.shift), _p(e, self.shift)] for e in x["energy"]]


class Vad2(Vad):
    shift = 0.2  # stricter: more requests stop early


class Asr:
    input_schema = [{"name": "audio_len", "dtype": "float"},
                    {"name": "speech_ratio", "dtype": "float"}]
    output = {"kind": "free"}
    extra = 0

    def predict(self, x: Any) -> list[str]:
        out = []
        for n, r in zip(x["audio_len"], x["speech_ratio"], strict=True):
            if n == 666:
                raise ValueError("the decoder crashed")
            out.append(f"words:{round(n * r) + self.extra}")
        return out


class Asr2(Asr):
    extra = 1
