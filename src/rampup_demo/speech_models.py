"""The speech scenario's two stages as registrable Python objects: a VAD and an ASR,
both from ``pocketsphinx`` (extra ``speech``; its wheel ships the en-US acoustic model,
language model and dictionary, so nothing is downloaded).

* :class:`Vad` — pocketsphinx's WebRTC-derived voice activity detector over 30 ms
  frames. Its output is a class, ``speech`` or ``no_speech``, with probabilities
  ``[1 - r, r]`` where ``r`` is the share of frames heard as speech; a clip is speech
  when ``r >= threshold``. :class:`VadStrictThreshold` is the same detector with a
  threshold set far too high (a misconfiguration): it calls most speech silence.
* :class:`Asr` — the pocketsphinx decoder with its shipped model; the output is the
  transcript (task ``transcription``, so the monitor scores it with WER once labels
  arrive).
  :class:`AsrTuned` has decoder parameters tuned on the demo's clips (language weight,
  word insertion penalty, beams). A tuning run (:func:`tune`) searches those
  parameters on labelled clips and writes the best as a small module to register: the
  acoustic and language models themselves are not retrained (out of reach here).

Each class is instantiated without arguments by rampup's Python flavor; every
version is a class of this module (``rampup_demo.speech_models:AsrTuned``).

>>> Vad.threshold, VadStrictThreshold.threshold
(0.2, 0.95)
>>> sorted(AsrTuned.params)
['beam', 'lw', 'wbeam', 'wip']
"""

from __future__ import annotations

import multiprocessing
import threading
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rampup_demo.speech_audio import RATE, Samples

AUDIO_FEATURE = [{"name": "audio", "dtype": "audio", "max_seconds": 30.0,
                  "sample_rates": [RATE]}]
EXTRA = "pip install 'rampup[speech]'"


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError as exc:
        raise RuntimeError(f"the speech models need pocketsphinx: {EXTRA}") from exc
    return pocketsphinx


def _pcm(samples: Samples) -> bytes:
    return (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _samples(value: Any) -> Samples:
    """The samples of an :class:`~rampup.inputs.media.AudioInput` (or a raw array)."""
    x = getattr(value, "samples", value)
    x = np.asarray(x, dtype=np.float32)
    return x.mean(axis=1).astype(np.float32) if x.ndim > 1 else x


class Vad:
    """Voice activity (see the module doc)."""

    input_schema = AUDIO_FEATURE
    classes_ = ["no_speech", "speech"]
    mode = 2  # pocketsphinx.Vad.MEDIUM_STRICT
    threshold = 0.2

    def __init__(self) -> None:
        self._vad = _pocketsphinx().Vad(mode=self.mode, frame_length=0.03, sample_rate=RATE)
        self._lock = threading.Lock()

    def speech_ratio(self, samples: Samples) -> float:
        pcm = _pcm(samples)
        step = int(self._vad.frame_bytes)
        n = len(pcm) // step
        if n == 0:
            return 0.0
        with self._lock:
            hits: int = sum(bool(self._vad.is_speech(pcm[i * step:(i + 1) * step]))
                       for i in range(n))
        return hits / n

    def _ratios(self, x: Any) -> list[float]:
        return [self.speech_ratio(_samples(v)) for v in x["audio"]]

    def predict(self, x: Any) -> list[str]:
        return [self.classes_[r >= self.threshold] for r in self._ratios(x)]

    def predict_proba(self, x: Any) -> list[list[float]]:
        # the class follows the threshold, not 0.5: shift the ratio so that the
        # probability of speech crosses 0.5 where the ratio crosses the threshold
        return [[1.0 - p, p] for p in (_shifted(r, self.threshold) for r in self._ratios(x))]


def _shifted(ratio: float, threshold: float) -> float:
    """A probability of speech that is 0.5 at ``threshold``, monotone in ``ratio``.

    >>> _shifted(0.2, 0.2), _shifted(0.0, 0.2), _shifted(1.0, 0.2)
    (0.5, 0.0, 1.0)
    """
    if ratio >= threshold:
        return 0.5 + 0.5 * (ratio - threshold) / max(1.0 - threshold, 1e-9)
    return 0.5 * ratio / max(threshold, 1e-9)


class VadStrictThreshold(Vad):
    """The same detector with its threshold set far too high (a broken configuration)."""

    threshold = 0.95


class Asr:
    """The pocketsphinx decoder with its shipped en-US model (see the module doc).

    pocketsphinx holds the GIL while it decodes (seconds per clip), which would freeze the
    server's event loop: the decoder runs in a worker process of its own, and the
    serving thread waits for it without holding the GIL.
    """

    input_schema = AUDIO_FEATURE
    output = {"kind": "free", "task": "transcription"}
    params: dict[str, float] = {}

    def __init__(self) -> None:
        _pocketsphinx()  # fail here, naming the extra, rather than in the worker
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx,
                                         initializer=_start_decoder,
                                         initargs=(dict(self.params),))
        weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)

    def transcribe(self, samples: Samples) -> str:
        """The transcript of a clip ("" when the decoder hears no word)."""
        return self._pool.submit(_decode, _pcm(samples)).result()

    def predict(self, x: Any) -> list[str]:
        futures = [self._pool.submit(_decode, _pcm(_samples(v))) for v in x["audio"]]
        return [f.result() for f in futures]


_DECODER: Any = None  # the worker process's decoder


def _start_decoder(params: dict[str, float]) -> None:
    global _DECODER
    ps = _pocketsphinx()
    _DECODER = ps.Decoder(ps.Config(**params))


def _decode(pcm: bytes) -> str:
    d = _DECODER
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    hyp = d.hyp()
    return "" if hyp is None else str(hyp.hypstr)


class AsrTuned(Asr):
    """Decoder parameters tuned on the demo's clips (:func:`tune` found them)."""

    params = {"lw": 8.0, "wip": 0.2, "beam": 1e-60, "wbeam": 1e-50}


#: the grid :func:`tune` searches: language weight and word insertion penalty
TUNING_GRID: tuple[dict[str, float], ...] = tuple(
    {"lw": lw, "wip": wip, "beam": 1e-60, "wbeam": 1e-50}
    for lw in (5.0, 6.5, 8.0, 10.0) for wip in (0.05, 0.2, 0.65))


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    from rampup.tasks.transcription import wer

    return float(wer(list(references), list(hypotheses)))


def tune(clips: Iterable[tuple[Samples, str]],
         grid: Sequence[dict[str, float]] = TUNING_GRID) -> list[tuple[dict[str, float], float]]:
    """Each decoder configuration of ``grid`` with its corpus WER on the labelled
    ``clips`` (samples, transcript), best first."""
    data = list(clips)
    refs = [t for _, t in data]
    scored = []
    for params in grid:
        model = type("Candidate", (Asr,), {"params": dict(params)})()
        hyps = [model.transcribe(x) for x, _ in data]
        scored.append((dict(params), corpus_wer(refs, hyps)))
    return sorted(scored, key=lambda p: p[1])


TUNED_MODULE = '''"""An ASR version written by the speech demo's tuning run: pocketsphinx's shipped
en-US model with decoder parameters searched on {n} labelled clips (WER {wer:.3f})."""

from rampup_demo.speech_models import Asr


class TunedAsr(Asr):
    params = {params!r}
'''


def write_tuned(path: Path, params: dict[str, float], *, n: int, wer: float) -> str:
    """Write the tuned version as a module file; returns its spec to register."""
    path.write_text(TUNED_MODULE.format(n=n, wer=wer, params=params), encoding="utf-8")
    return f"{path}:TunedAsr"
