"""Decoded image and audio inputs, with the limits that keep a request cheap and safe.

A binary input arrives as bytes (a multipart upload or a file of a batch), as base64 text
in JSON (a data URL ``data:image/png;base64,...`` works too), or as ``{"b64": "..."}``.
:func:`decode_image` accepts PNG and JPEG (Pillow), :func:`decode_audio` WAV and FLAC
(soundfile); both check the byte size first, then the header (pixels, duration, sample
rate) before decoding the payload, so an oversized or hostile input costs little. Every
failure is an :class:`InputProblem` saying what is wrong and how to fix it.

The model receives an :class:`ImageInput` (``pixels``: height x width x 3 RGB ``uint8``)
or an :class:`AudioInput` (``samples``: float32 in [-1, 1], mono ``(n,)`` or ``(n,
channels)``, and ``sample_rate``). What is logged is :meth:`to_log`: the content hash,
the format, the size and the input metrics (:mod:`rampup.inputs.metrics`) — never the
bytes. Pillow and soundfile come with the ``media`` extra and load on first use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000
MAX_SECONDS = 600.0
IMAGE_FORMATS = ("PNG", "JPEG")
AUDIO_FORMATS = ("WAV", "FLAC")


class InputProblem(Exception):
    """A bad input value: ``message`` (what is wrong) and ``fix`` (what to do)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def _media(module: str) -> Any:
    try:
        if module == "PIL":
            from PIL import Image
            return Image
        import soundfile
        return soundfile
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise InputProblem(f"this server cannot decode {'images' if module == 'PIL' else 'audio'}"
                           " (the media extra is not installed)",
                           "ask the operator to pip install 'rampup[media]'") from exc


def as_bytes(value: Any, max_bytes: int) -> bytes:
    """The bytes of a binary input value (bytes, base64 text, data URL or ``{"b64"}``)."""
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        value = value["b64"]
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str):
        text = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
        if len(text) * 3 // 4 > max_bytes + 3:
            raise InputProblem(f"is about {len(text) * 3 // 4:,} bytes, over the limit of "
                               f"{max_bytes:,}", "send a smaller file (or raise max_bytes in "
                                                  "the schema)")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputProblem("is not valid base64", "send the file's bytes base64-encoded "
                               "(e.g. base64.b64encode(open(path, 'rb').read()).decode()), "
                               "or upload it as multipart/form-data") from None
    else:
        kind = "null" if value is None else type(value).__name__
        raise InputProblem(f"must be a file, got {kind}",
                           'send base64 text, {"b64": "..."}, or a multipart file upload')
    if len(data) > max_bytes:
        raise InputProblem(f"is {len(data):,} bytes, over the limit of {max_bytes:,}",
                           "send a smaller file (or raise max_bytes in the schema)")
    if not data:
        raise InputProblem("is an empty file", "send the file's content")
    return data


class ImageInput:
    """A decoded image (see the module docstring). A plain class, not a dataclass: the
    log writer must see an unknown object and ask for :meth:`to_log`."""

    __slots__ = ("_hash", "_metrics", "data", "format", "pixels")

    def __init__(self, data: bytes, format: str, pixels: npt.NDArray[np.uint8]) -> None:
        self.data = data
        self.format = format
        self.pixels = pixels
        self._hash: str | None = None
        self._metrics: dict[str, float] | None = None

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def sha256(self) -> str:
        if self._hash is None:
            self._hash = hashlib.sha256(self.data).hexdigest()
        return self._hash

    def metrics(self) -> dict[str, float]:
        """The input metrics (computed once, off the request path)."""
        if self._metrics is None:
            from rampup.inputs.metrics import image_metrics

            self._metrics = image_metrics(self.pixels)
        return self._metrics

    def to_log(self) -> dict[str, Any]:
        return {"type": "image", "format": self.format.lower(), "bytes": len(self.data),
                "sha256": self.sha256, "metrics": self.metrics()}

    def __str__(self) -> str:
        return f"image:sha256:{self.sha256}"

    def __repr__(self) -> str:
        return f"ImageInput({self.format} {self.width}x{self.height}, {len(self.data)} bytes)"


class AudioInput:
    """A decoded clip (see the module docstring)."""

    __slots__ = ("_hash", "_metrics", "data", "format", "sample_rate", "samples")

    def __init__(self, data: bytes, format: str, samples: npt.NDArray[np.float32],
                 sample_rate: int) -> None:
        self.data = data
        self.format = format
        self.samples = samples
        self.sample_rate = sample_rate
        self._hash: str | None = None
        self._metrics: dict[str, float] | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def sha256(self) -> str:
        if self._hash is None:
            self._hash = hashlib.sha256(self.data).hexdigest()
        return self._hash

    def metrics(self) -> dict[str, float]:
        if self._metrics is None:
            from rampup.inputs.metrics import audio_metrics

            self._metrics = audio_metrics(self.samples, self.sample_rate)
        return self._metrics

    def to_log(self) -> dict[str, Any]:
        return {"type": "audio", "format": self.format.lower(), "bytes": len(self.data),
                "sha256": self.sha256, "metrics": self.metrics()}

    def __str__(self) -> str:
        return f"audio:sha256:{self.sha256}"

    def __repr__(self) -> str:
        return (f"AudioInput({self.format} {self.duration:.2f} s at {self.sample_rate} Hz, "
                f"{len(self.data)} bytes)")


def decode_image(value: Any, *, max_bytes: int = MAX_BYTES,
                 max_pixels: int = MAX_PIXELS) -> ImageInput:
    """A PNG or JPEG as RGB pixels, within the limits."""
    if isinstance(value, ImageInput):
        return value
    data = as_bytes(value, max_bytes)
    image_mod = _media("PIL")
    with warnings.catch_warnings():
        warnings.simplefilter("error", image_mod.DecompressionBombWarning)
        try:
            im = image_mod.open(io.BytesIO(data))
            fmt = str(im.format or "")
            if fmt not in IMAGE_FORMATS:
                raise InputProblem(f"is a {fmt or 'unknown'} image, not PNG or JPEG",
                                   "convert it to PNG or JPEG")
            w, h = im.size
            if w * h > max_pixels:
                raise InputProblem(f"is {w}x{h} = {w * h:,} pixels, over the limit of "
                                   f"{max_pixels:,}", "resize the image before sending it")
            pixels = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except InputProblem:
            raise
        except (image_mod.DecompressionBombWarning, image_mod.DecompressionBombError):
            raise InputProblem("has more pixels than the decoder allows",
                               "resize the image before sending it") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputProblem(f"is not a readable PNG or JPEG image ({exc})",
                               "send an image file in PNG or JPEG format") from None
    return ImageInput(data, fmt, pixels)


def decode_audio(value: Any, *, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS,
                 sample_rates: tuple[int, ...] | None = None) -> AudioInput:
    """A WAV or FLAC clip as float32 samples, within the limits (``sample_rates``: the
    rates accepted, any when None)."""
    if isinstance(value, AudioInput):
        return value
    data = as_bytes(value, max_bytes)
    sf = _media("soundfile")
    try:
        info = sf.info(io.BytesIO(data))
    except (RuntimeError, TypeError, ValueError) as exc:  # soundfile's LibsndfileError
        raise InputProblem(f"is not a readable WAV or FLAC file ({exc})",
                           "send a WAV or FLAC audio file") from None
    fmt = str(info.format)
    if fmt not in AUDIO_FORMATS:
        raise InputProblem(f"is {fmt} audio, not WAV or FLAC", "convert it to WAV or FLAC")
    rate = int(info.samplerate)
    if sample_rates is not None and rate not in sample_rates:
        raise InputProblem(f"has a sample rate of {rate} Hz, not one of "
                           f"{', '.join(map(str, sample_rates))}",
                           f"resample it to {sample_rates[0]} Hz")
    seconds = info.frames / rate if rate else 0.0
    if seconds > max_seconds:
        raise InputProblem(f"is {seconds:.1f} s long, over the limit of {max_seconds:g} s",
                           f"cut it into clips of at most {max_seconds:g} s")
    if info.frames == 0:
        raise InputProblem("holds no samples", "send a clip with sound in it")
    try:
        samples, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (RuntimeError, ValueError) as exc:
        raise InputProblem(f"could not be decoded ({exc})",
                           "send an intact WAV or FLAC file") from None
    return AudioInput(data, fmt, np.asarray(samples, dtype=np.float32), rate)
