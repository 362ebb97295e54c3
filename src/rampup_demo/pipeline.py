"""A tiny speech pipeline the demo can serve: ``vad`` → ``asr``, named ``transcribe``.

For the lead's demo runner (this module does not touch it). To add the pipeline:

1. merge :func:`project_models` into the ``models`` of the demo's ``rampup.yaml``;
2. call :func:`register` with the demo's :class:`~rampup.registry.registry.Registry`
   (registers and deploys ``vad@v1`` and ``asr@v1``, Python flavor);
3. send :func:`requests` to ``POST /v1/models/transcribe/predict`` (with an
   ``x-request-key``), and :func:`transcript` of each record as its label to
   ``/v1/models/transcribe/feedback`` (the end-to-end accuracy).

``requests(..., drift=True)`` is the incident: the microphone gain rises, so ``vad``
hears speech in noise (its ``energy`` input and class mix move first) and ``asr``'s
transcripts of that noise are wrong (accuracy drops after) — ``rampup monitor cascade
transcribe`` then names ``vad`` first.

>>> import numpy as np
>>> rows = requests(np.random.default_rng(0), 4)
>>> sorted(rows[0])
['audio_len', 'energy', 'words']
>>> Vad().predict({"energy": [0.1, 0.9]})
['no_speech', 'speech']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PIPELINE = "transcribe"


def _speech_p(energy: float) -> float:
    return 1.0 / (1.0 + math.exp(-12.0 * (energy - 0.5)))


class Vad:
    """Voice activity: ``speech`` when the clip's energy is high enough."""

    input_schema = [{"name": "energy", "dtype": "float"}]
    classes_ = ["no_speech", "speech"]

    def predict(self, x: Any) -> list[str]:
        return ["speech" if _speech_p(e) >= 0.5 else "no_speech" for e in x["energy"]]

    def predict_proba(self, x: Any) -> list[list[float]]:
        return [[1.0 - _speech_p(e), _speech_p(e)] for e in x["energy"]]


class Asr:
    """A stand-in transcriber: the number of words it hears in the clip."""

    input_schema = [{"name": "audio_len", "dtype": "float"},
                    {"name": "speech_ratio", "dtype": "float"},
                    {"name": "words", "dtype": "int", "nullable": True}]
    output = {"kind": "free"}

    def predict(self, x: Any) -> list[str]:
        out = []
        for n, r, w in zip(x["audio_len"], x["speech_ratio"], x["words"], strict=True):
            heard = w if w is not None and not (isinstance(w, float) and math.isnan(w)) \
                else round(n * r)
            out.append(f"words:{int(heard)}")
        return out


def project_models() -> dict[str, Any]:
    """The ``models`` entries to merge into the demo's project file."""
    return {
        "vad": {"description": "voice activity detection (demo)"},
        "asr": {"description": "speech recognition stand-in (demo)"},
        PIPELINE: {"description": "vad -> asr", "pipeline": {"stages": [
            {"model": "vad", "stop_when": "label == 'no_speech'"},
            {"model": "asr", "inputs": {"speech_ratio": "vad.probabilities.speech"}},
        ]}},
    }


def register(registry: Any) -> None:
    """Register (and, as first versions, deploy) ``vad@v1`` and ``asr@v1``."""
    registry.register("vad", f"{__name__}:Vad", version="v1", flavor="python")
    registry.register("asr", f"{__name__}:Asr", version="v1", flavor="python")


def requests(rng: np.random.Generator, n: int, *, drift: bool = False) -> list[dict[str, Any]]:
    """``n`` request records. A real utterance carries its word count (``words``, which
    the stand-in transcribes exactly); background noise has none. With ``drift`` the gain
    rises: noise gets loud enough to pass as speech."""
    out: list[dict[str, Any]] = []
    for _ in range(n):
        spoken = bool(rng.random() < 0.6)
        gain = 0.35 if drift else 0.0
        energy = float(rng.uniform(0.55, 1.0) if spoken else rng.uniform(0.0, 0.45) + gain)
        row: dict[str, Any] = {"energy": round(energy, 4),
                               "audio_len": round(float(rng.uniform(1.0, 8.0)), 2),
                               "words": int(rng.integers(2, 20)) if spoken else None}
        out.append(row)
    return out


def transcript(record: dict[str, Any]) -> str:
    """The true end-to-end answer for a record from :func:`requests`."""
    return "no_speech" if record["words"] is None else f"words:{record['words']}"
