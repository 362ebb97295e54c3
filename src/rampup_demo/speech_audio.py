"""The speech scenario's clips: sentences spoken by ``espeak-ng``, recorded through a
simulated microphone.

:func:`synthesize` runs ``espeak-ng`` (a Debian package: ``apt-get install espeak-ng``)
for one sentence and :class:`Voice` and returns 16 kHz mono float samples;
:func:`record` pads the utterance with a little silence and puts it through a
:class:`Microphone` (gain, background noise, clipping at full scale); :func:`wav_bytes`
encodes a clip as 16-bit PCM WAV, the format the pipeline's ``audio`` input takes.
:class:`ClipSource` draws clips from the sentence list with a seeded generator (a share
of them background noise only, which the VAD should stop), caching each sentence's
synthesis per voice. Nothing is downloaded: the voices ship with espeak-ng.

The story's "new users" are :data:`TEEN_VOICES` (higher, faster voices) and its new
microphone :data:`NEW_MIC` (hotter gain, a noisier room); both move the audio metrics
(``audio.rms_dbfs``, ``audio.peak``, ``audio.duration``, ``audio.silence``).

>>> mic = Microphone(gain_db=0.0, noise_dbfs=-120.0)
>>> x = record(np.full(1600, 0.5, np.float32), mic, np.random.default_rng(0), pad_s=0.0)
>>> float(x.max()), len(x)
(0.5, 1600)
>>> wav_bytes(x)[:4]
b'RIFF'
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

RATE = 16_000
ESPEAK = "espeak-ng"
INSTALL_HINT = "install it with: apt-get install espeak-ng (Debian/Ubuntu; 'make demo' does)"
Samples = npt.NDArray[np.float32]

#: What the users of the demo's voice assistant say (everyday words the shipped en-US
#: language model knows).
SENTENCES: tuple[str, ...] = (
    "turn on the lights in the kitchen",
    "what is the weather like today",
    "play some music in the living room",
    "set an alarm for seven in the morning",
    "call my mother on her phone",
    "how long does it take to get to work",
    "add milk and bread to the shopping list",
    "what time is it now",
    "read me the news",
    "turn the heating up a little",
    "remind me to buy a birthday present",
    "send a message to john",
    "how far is the nearest station",
    "stop the music please",
    "what is on my calendar tomorrow",
    "open the front door",
    "tell me a story about a dog",
    "where is the closest coffee shop",
    "turn off the television",
    "is it going to rain this afternoon",
    "start a timer for ten minutes",
    "what is the capital of france",
    "call the office and leave a message",
    "how many people live in london",
    "play the next song",
    "book a table for two at eight",
    "what did i have for lunch yesterday",
    "show me pictures from last summer",
    "find a good place to eat tonight",
    "lock the back door",
)


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: ``name`` (``en-us``, ``en-us+f3`` ...), speed in words per
    minute, pitch 0-99."""

    name: str = "en-us"
    speed: int = 150
    pitch: int = 45

    def args(self) -> list[str]:
        return ["-v", self.name, "-s", str(self.speed), "-p", str(self.pitch)]


@dataclass(frozen=True)
class Microphone:
    """The recording chain: ``gain_db`` on the voice, background noise at ``noise_dbfs``
    (RMS, dB full scale), everything clipped at full scale."""

    gain_db: float = -6.0
    noise_dbfs: float = -50.0


#: the users of the launch: adult voices at a calm pace
ADULT_VOICES = (Voice("en-us", 150, 40), Voice("en-us+m3", 155, 35), Voice("en-us+f2", 150, 55))
#: the new users (the course's "teenagers"): higher and faster
TEEN_VOICES = (Voice("en-us+f3", 205, 85), Voice("en-us+m7", 210, 80), Voice("en-us+f4", 215, 90))
MIC = Microphone()
#: the new microphone: hotter gain (peaks clip) and a noisier room
NEW_MIC = Microphone(gain_db=8.0, noise_dbfs=-32.0)


class SpeechUnavailable(RuntimeError):
    """espeak-ng is not installed (the message says how to install it)."""


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def _resample(x: Samples, rate: int) -> Samples:
    if rate == RATE:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(RATE, rate)
    return np.asarray(resample_poly(x, RATE // g, rate // g), dtype=np.float32)


def read_wav(data: bytes) -> tuple[Samples, int]:
    """16-bit PCM WAV bytes as float samples (mono) and the sample rate."""
    with wave.open(io.BytesIO(data)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit samples")
    x = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x, rate


def synthesize(text: str, voice: Voice = ADULT_VOICES[0]) -> Samples:
    """``text`` spoken by ``voice``, 16 kHz mono float samples."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SpeechUnavailable(f"the speech scenario needs {ESPEAK}, which is not installed: "
                                f"{INSTALL_HINT}")
    done = subprocess.run([exe, *voice.args(), "--stdout", text], capture_output=True,
                          check=False, timeout=60)
    if done.returncode != 0 or not done.stdout:
        raise SpeechUnavailable(f"{ESPEAK} failed for voice {voice.name!r}: "
                                f"{done.stderr.decode(errors='replace').strip()[:300]}")
    x, rate = read_wav(done.stdout)
    return _resample(x, rate)


def noise(n: int, dbfs: float, rng: np.random.Generator) -> Samples:
    """``n`` samples of room noise (white noise through a gentle low-pass, "pinkish") at
    an RMS of ``dbfs``."""
    white = rng.standard_normal(n + 8)
    shaped = np.convolve(white, np.ones(8) / 8.0, mode="valid")[:n] + 0.3 * white[:n]
    rms = float(np.sqrt(np.mean(shaped ** 2))) or 1.0
    return (shaped * (10 ** (dbfs / 20.0) / rms)).astype(np.float32)


def record(speech: Samples, mic: Microphone, rng: np.random.Generator, *,
           pad_s: float = 0.3) -> Samples:
    """``speech`` as the microphone hears it (see :class:`Microphone`), with ``pad_s`` of
    room noise before and after."""
    pad = np.zeros(int(pad_s * RATE), np.float32)
    x = np.concatenate([pad, speech, pad]) * np.float32(10 ** (mic.gain_db / 20.0))
    if mic.noise_dbfs > -120.0:
        x = x + noise(len(x), mic.noise_dbfs, rng)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def wav_bytes(samples: Samples, rate: int = RATE) -> bytes:
    """16-bit PCM mono WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


@dataclass
class ClipSource:
    """Seeded clips as the world is now: the voices speaking, the microphone recording.

    :meth:`clip` returns ``(wav bytes, transcript)``; a ``silence_share`` of the clips
    is room noise only (transcript ``""``). Switching ``voices`` or ``mic`` applies to
    the next clip. Syntheses are cached per (sentence, voice).
    """

    seed: int = 0
    voices: tuple[Voice, ...] = ADULT_VOICES
    mic: Microphone = MIC
    silence_share: float = 0.15
    sentences: tuple[str, ...] = SENTENCES

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([self.seed, 31])
        self._cache: dict[tuple[str, Voice], Samples] = {}

    def speech(self, text: str, voice: Voice) -> Samples:
        key = (text, voice)
        if key not in self._cache:
            self._cache[key] = synthesize(text, voice)
        return self._cache[key]

    def clip(self) -> tuple[bytes, str]:
        rng = self._rng
        if rng.random() < self.silence_share:
            seconds = float(rng.uniform(1.0, 2.5))
            x = record(np.zeros(int(seconds * RATE), np.float32), self.mic, rng, pad_s=0.0)
            return wav_bytes(x), ""
        text = self.sentences[int(rng.integers(len(self.sentences)))]
        voice = self.voices[int(rng.integers(len(self.voices)))]
        return wav_bytes(record(self.speech(text, voice), self.mic, rng)), text

    def describe(self) -> dict[str, Any]:
        return {"voices": [v.name for v in self.voices], "gain_db": self.mic.gain_db,
                "noise_dbfs": self.mic.noise_dbfs}
