"""Generated images and audio clips for the tests (no files downloaded)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from PIL import Image


def photo(seed: int, size: tuple[int, int] = (64, 48), brightness: float = 1.0) -> np.ndarray:
    """A textured RGB photo (a gradient, shapes and noise) with a brightness factor."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 60 * np.sin(xx / 7 + seed) + 40 * np.cos(yy / 5)
    img = np.stack([base + rng.normal(0, 12, (h, w)) + 20 * c for c in range(3)], axis=2)
    img[h // 4: h // 2, w // 3: w // 2] += 60
    return np.clip(img * brightness, 0, 255).astype(np.uint8)


def encode_image(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def clip(seed: int, seconds: float = 1.0, rate: int = 16000, level: float = 0.3,
         silence: float = 0.2) -> np.ndarray:
    """Speech-like audio: tone bursts with noise, then ``silence`` share of quiet."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    env = (np.sin(2 * np.pi * 3 * t) > -0.2).astype(np.float64)
    x = level * env * np.sin(2 * np.pi * (180 + 40 * rng.random()) * t)
    x += level * 0.1 * rng.normal(size=n)
    x[int(n * (1 - silence)):] = 0.0
    return np.clip(x, -1, 1).astype(np.float32)


def encode_audio(samples: np.ndarray, rate: int = 16000, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()
