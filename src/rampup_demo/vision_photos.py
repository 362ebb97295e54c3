"""The vision demo's photos (:mod:`rampup_demo.vision` tells the story): the inspection
line that takes them and knows each one's truth, the studio-lit photos v1 is trained on
and registered with, photo folders with a manifest for registration, the labelled photos
read back from the prediction log and the kept input bytes, and a model file's weights.

>>> line = Line(seed=1)
>>> row = next(line.records())
>>> sorted(row), row[LABEL] in CLASSES, line.describe()
(['defect', 'photo'], True, 'healthy')
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rampup.store import Database
from rampup_demo.vision_model import (
    CLASSES,
    STUDIO,
    Lighting,
    PhoneCamera,
    accuracy,
    model_source,
    train,
)

LABEL = "defect"


# -- the line --------------------------------------------------------------------------------

@dataclass
class Line:
    """The inspection line: its lamp, its camera, and the truth of every photo taken."""

    seed: int = 0
    lighting: Lighting = STUDIO
    truth: dict[str, str] = field(default_factory=dict)  # sha256 of the PNG -> class

    def __post_init__(self) -> None:
        self.camera = PhoneCamera(self.seed + 7)

    def describe(self) -> str:
        return "healthy" if self.lighting == STUDIO else f"new lamp ({self.lighting.describe()})"

    def records(self) -> Iterator[dict[str, Any]]:
        """Endless photos (base64 PNG) with their true class, under the lamp of now."""
        while True:
            for shot in self.camera.shoot(8, self.lighting):
                png = shot.png()
                self.truth[hashlib.sha256(png).hexdigest()] = shot.label
                if len(self.truth) > 200_000:
                    del self.truth[next(iter(self.truth))]
                yield {"photo": base64.b64encode(png).decode("ascii"), LABEL: shot.label}

    def knows(self, item: dict[str, Any]) -> str | None:
        photo = (item.get("inputs") or {}).get("photo")
        return self.truth.get(photo.get("sha256", "")) if isinstance(photo, dict) else None


# -- photos on disk and in the log ------------------------------------------------------------

def write_shots(folder: Path, shots: list[tuple[bytes, str]]) -> Path:
    """PNG files and a manifest CSV (``photo,defect``) for registration."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (png, label) in enumerate(shots):
        name = f"{i:05d}.png"
        (folder / name).write_bytes(png)
        rows.append({"photo": name, LABEL: label})
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def train_v1(data: Path, *, n_train: int, n_reference: int, seed: int
             ) -> dict[str, Any]:
    """Photos under the studio light, v1 trained on them, its model file and reference."""
    camera = PhoneCamera(seed)
    shots = camera.shoot(n_train)
    holdout = camera.shoot(max(200, n_train // 3))
    weights = train([s.pixels for s in shots], [s.label for s in shots], seed=seed)
    acc = accuracy(weights, [s.pixels for s in holdout], [s.label for s in holdout])
    (data / "vision").mkdir(parents=True, exist_ok=True)
    source = data / "vision" / "inspector_v1.py"
    source.write_text(model_source("v1", weights, f"trained on {n_train} studio-lit "
                                   f"photos, holdout accuracy {acc:.3f}"), encoding="utf-8")
    np.savez_compressed(data / "vision" / "studio_train.npz",
                        pixels=np.stack([s.pixels for s in shots]),
                        labels=np.array([s.label for s in shots]))
    manifest = write_shots(data / "vision" / "studio", [(s.png(), s.label)
                                                         for s in shots[:n_reference]])
    return {"source": source, "reference": manifest, "accuracy": acc, "n": len(holdout)}


def labelled_photos(store: Database, model: str, since: float, inputs_dir: Path
                    ) -> list[tuple[np.ndarray, str, bytes]]:
    """(pixels, label, PNG bytes) of the answered photos since ``since`` that have a label
    by now, their bytes from the server's kept inputs (``RAMPUP_INPUT_BYTES_DIR``)."""
    from PIL import Image

    photos: list[tuple[np.ndarray, str, bytes]] = []
    for chunk in store.predictions.iter_predictions(model, since=since, roles=["answer"]):
        for row in chunk:
            inputs = row["inputs"]
            inputs = json.loads(inputs) if isinstance(inputs, str) else inputs or {}
            meta = inputs.get("photo")
            if row["label"] not in CLASSES or not isinstance(meta, dict):
                continue
            path = inputs_dir / meta["sha256"][:2] / f"{meta['sha256']}.png"
            if path.exists():
                png = path.read_bytes()
                pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.uint8)
                photos.append((pixels, str(row["label"]), png))
    return photos


def weights_of(source: Path) -> dict[str, Any]:
    import ast

    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "WEIGHTS":
            return dict(ast.literal_eval(node.value))
    raise ValueError(f"no WEIGHTS in {source}")
