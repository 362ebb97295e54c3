"""The vision scenario's world and model: phone backs with scratches and dents, photographed
under a light that can change, and a small classifier trained on them in a second.

:class:`PhoneCamera` draws seeded 48x48 RGB photos of phone backs (four finishes, a light
gradient and a soft highlight, sensor noise): ``ok`` (60 %), ``scratch`` (25 %: a thin
bright line) or ``dent`` (15 %: a small shaded bowl); a fifth of the defects are faint,
which is where the model is unsure and a person decides. :class:`Lighting` is the line's
lamp: ``gain`` scales everything the camera sees, ``contrast`` the departures from the
mean; the sensor noise comes after the lamp, so a dim, flat light also lowers the
signal-to-noise ratio. :data:`STUDIO` is the light the model was trained under,
:data:`DIM` the light after the lamp is replaced.

:func:`features` turns pixels into 14 numbers (luma level and spread, gradient and
Laplacian quantiles, the largest departure of 4x4 block means from a fitted plane, how
elongated the strongest edges are). They are in absolute luma units on purpose, as a
quick model built under one light would be: under :data:`DIM` a scratch's edges are a
third as strong, so the studio model calls many defects ``ok``.

:func:`train` fits a standard scaler and a multinomial logistic regression (scikit-learn)
and returns the weights; :func:`model_source` writes them into a self-contained Python
model file (``python`` flavor, ``LinearInspector`` subclass), so the registered artifact
holds its weights and each version has its own content hash.

>>> camera = PhoneCamera(seed=1)
>>> shots = camera.shoot(6)
>>> shots[0].pixels.shape, shots[0].pixels.dtype, sorted({s.label for s in shots}) <= list(CLASSES)
((48, 48, 3), dtype('uint8'), True)
>>> features(shots[0].pixels).shape
(14,)
>>> dim = PhoneCamera(seed=1).shoot(6, DIM)
>>> bool(dim[0].pixels.mean() < shots[0].pixels.mean())
True
"""

from __future__ import annotations

import io
import math
import pprint
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

CLASSES = ("ok", "scratch", "dent")
SHARES = (0.6, 0.25, 0.15)
SIZE = 48
FAINT_SHARE = 0.2
FINISHES = ((38, 38, 44), (188, 188, 194), (64, 86, 138), (196, 176, 150))
SENSOR_NOISE = 2.5  # luma units, after the lamp


@dataclass(frozen=True)
class Lighting:
    """The lamp over the inspection line (see the module doc)."""

    gain: float = 1.0
    contrast: float = 1.0

    def describe(self) -> str:
        return f"gain {self.gain:g}, contrast {self.contrast:g}"


STUDIO = Lighting()
DIM = Lighting(gain=0.62, contrast=0.5)


@dataclass(frozen=True)
class Shot:
    pixels: npt.NDArray[np.uint8]
    label: str

    def png(self) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.pixels).save(buf, format="PNG")
        return buf.getvalue()


class PhoneCamera:
    """Seeded photos of phone backs (see the module doc)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng([seed, 21])
        yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
        self._yy, self._xx = yy, xx

    def shoot(self, n: int, lighting: Lighting = STUDIO) -> list[Shot]:
        return [self._one(lighting) for _ in range(n)]

    def _one(self, light: Lighting) -> Shot:
        rng, xx, yy = self.rng, self._xx, self._yy
        label = CLASSES[int(rng.choice(len(CLASSES), p=SHARES))]
        base = np.array(FINISHES[int(rng.integers(len(FINISHES)))], dtype=np.float32)
        base = base * np.float32(rng.uniform(0.9, 1.1))
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (np.cos(angle) * (xx - SIZE / 2) + np.sin(angle) * (yy - SIZE / 2)) / SIZE
        hx, hy = rng.uniform(8, 40, 2)
        shade = 1.0 + 0.12 * ramp + 0.10 * np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / 300.0)
        surface = np.zeros((SIZE, SIZE), np.float32)  # luma departures of the defect
        faint = bool(rng.random() < FAINT_SHARE)
        if label == "scratch":
            surface += self._scratch(rng.uniform(6, 14) if faint else rng.uniform(30, 70))
        elif label == "dent":
            surface += self._dent(rng.uniform(6, 12) if faint else rng.uniform(25, 55))
        img = base[None, None, :] * shade[..., None] + surface[..., None]
        img += rng.normal(0, 1.2, (SIZE, SIZE, 1)).astype(np.float32)  # the finish's grain
        mean = img.mean()
        img = (mean + (img - mean) * light.contrast) * light.gain
        img += rng.normal(0, SENSOR_NOISE, img.shape).astype(np.float32)
        return Shot(np.clip(np.rint(img), 0, 255).astype(np.uint8), label)

    def _scratch(self, amplitude: float) -> npt.NDArray[np.float32]:
        rng, xx, yy = self.rng, self._xx, self._yy
        x0, y0 = rng.uniform(8, SIZE - 8, 2)
        angle, length = rng.uniform(0, math.pi), rng.uniform(14, 34)
        dx, dy = math.cos(angle), math.sin(angle)
        t = np.clip((xx - x0) * dx + (yy - y0) * dy, -length / 2, length / 2)
        dist = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
        out: npt.NDArray[np.float32] = (amplitude * np.clip(1.0 - dist / 1.3, 0.0, 1.0)
                                        ).astype(np.float32)
        return out

    def _dent(self, amplitude: float) -> npt.NDArray[np.float32]:
        rng, xx, yy = self.rng, self._xx, self._yy
        cx, cy = rng.uniform(10, SIZE - 10, 2)
        r = rng.uniform(4, 8)
        angle = rng.uniform(0, 2 * math.pi)
        u = (np.cos(angle) * (xx - cx) + np.sin(angle) * (yy - cy)) / r
        bowl = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))
        out: npt.NDArray[np.float32] = (amplitude * u * bowl).astype(np.float32)
        return out


def _luma(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    px = pixels.astype(np.float32)
    out: npt.NDArray[np.float32] = px[..., 0] * 0.299 + px[..., 1] * 0.587 + px[..., 2] * 0.114
    return out


def features(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """14 features of one photo (see the module doc)."""
    y = _luma(pixels)
    gx, gy = np.diff(y, axis=1)[:-1, :], np.diff(y, axis=0)[:, :-1]
    grad = np.hypot(gx, gy).ravel()
    lap = np.abs(y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]
                 - 4.0 * y[1:-1, 1:-1]).ravel()
    h, w = y.shape
    blocks = y[:h // 4 * 4, :w // 4 * 4].reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))
    by, bx = np.mgrid[0:blocks.shape[0], 0:blocks.shape[1]]
    design = np.column_stack([np.ones(blocks.size), bx.ravel(), by.ravel(),
                              bx.ravel() ** 2, by.ravel() ** 2])
    coef, *_ = np.linalg.lstsq(design, blocks.ravel(), rcond=None)
    resid = blocks.ravel() - design @ coef
    strong = grad >= np.quantile(grad, 0.98)
    sx, sy = np.abs(gx.ravel()[strong]).sum(), np.abs(gy.ravel()[strong]).sum()
    q = np.quantile
    return np.array([
        y.mean(), y.std(), q(grad, 0.5), q(grad, 0.9), q(grad, 0.99), grad.max(),
        q(lap, 0.9), q(lap, 0.99), lap.max(), lap.mean(),
        np.abs(resid).max(), resid.std(), np.abs(np.diff(blocks, axis=1)).max(),
        abs(sx - sy) / (sx + sy + 1e-6)], dtype=np.float64)


def feature_matrix(images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float64]:
    return np.stack([features(p) for p in images]) if images else np.zeros((0, 14))


def train(images: Sequence[npt.NDArray[np.uint8]], labels: Sequence[str], *,
          weights: Sequence[float] | None = None, seed: int = 0) -> dict[str, Any]:
    """Fit scaler + multinomial logistic regression; the weights as plain lists."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    x = feature_matrix(images)
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=3.0, max_iter=2000, random_state=seed)
    with threadpool_limits(limits=1):
        clf.fit(scaler.transform(x), np.asarray(labels),
                sample_weight=None if weights is None else np.asarray(weights))
    return {"classes": [str(c) for c in clf.classes_],
            "mean": scaler.mean_.round(6).tolist(), "scale": scaler.scale_.round(6).tolist(),
            "coef": clf.coef_.round(6).tolist(), "intercept": clf.intercept_.round(6).tolist()}


def accuracy(weights: dict[str, Any], images: Sequence[npt.NDArray[np.uint8]],
             labels: Sequence[str]) -> float:
    probs = _proba(weights, feature_matrix(images))
    classes = np.asarray(weights["classes"])
    return float(np.mean(classes[probs.argmax(axis=1)] == np.asarray(labels)))


def _proba(w: dict[str, Any], x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    z = ((x - np.asarray(w["mean"])) / np.asarray(w["scale"])) @ np.asarray(w["coef"]).T \
        + np.asarray(w["intercept"])
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


class LinearInspector:
    """The served model: a photo in, ``ok``/``scratch``/``dent`` with probabilities out.
    Subclasses (written by :func:`model_source`) set ``WEIGHTS``."""

    input_schema = [{"name": "photo", "dtype": "image", "max_pixels": 512 * 512}]
    WEIGHTS: dict[str, Any] = {}

    def __init__(self) -> None:
        self.classes_ = list(self.WEIGHTS["classes"])

    def predict_proba(self, frame: Any) -> list[list[float]]:
        x = feature_matrix([img.pixels for img in frame["photo"]])
        return _proba(self.WEIGHTS, x).tolist()  # type: ignore[no-any-return]

    def predict(self, frame: Any) -> list[str]:
        return [self.classes_[int(np.argmax(p))] for p in self.predict_proba(frame)]


def model_source(version: str, weights: dict[str, Any], note: str) -> str:
    """A self-contained Python model file holding ``weights`` (register ``FILE:Inspector``)."""
    return (f'"""phone-inspection {version}, written by \'rampup demo --scenario vision\': '
            f'{note}."""\n\nfrom rampup_demo.vision_model import LinearInspector\n\n\n'
            f"class Inspector(LinearInspector):\n    WEIGHTS = "
            + pprint.pformat(weights, indent=4, width=96, compact=True).replace("\n", "\n    ")
            + "\n")
