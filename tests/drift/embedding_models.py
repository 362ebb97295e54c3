"""A small real model that returns an embedding with each prediction, registered by the
embedding-drift tests as a ``python`` flavor artifact (``embedding_models.py:encoder``)."""

from __future__ import annotations

from typing import Any

import numpy as np

DIMS = 8
_W = np.random.default_rng(7).normal(size=(4, DIMS))


class Encoder:
    """A label (sign of the sum) and an 8-dimensional embedding tanh(x W) per row."""

    input_schema = [{"name": f"x{i}", "dtype": "float"} for i in range(4)]
    output = {"kind": "free"}

    def predict(self, frame: Any) -> list[dict[str, Any]]:
        x = np.column_stack([np.asarray(frame[f"x{i}"], dtype=np.float64) for i in range(4)])
        emb = np.tanh(x @ _W)
        return [{"label": int(row.sum() > 0), "embedding": [round(float(v), 6) for v in e]}
                for row, e in zip(x, emb, strict=True)]


encoder = Encoder()


class Linear:
    """A number per row and no embedding: its embedding comes from a user function."""

    input_schema = [{"name": f"x{i}", "dtype": "float"} for i in range(4)]
    output = {"kind": "number"}

    def predict(self, frame: Any) -> list[float]:
        return [float(v) for v in np.asarray(frame["x0"], dtype=np.float64)]


def embed_record(record: dict[str, Any]) -> list[float]:
    """The user-function path (``embedding_function``): one record -> its embedding."""
    x = np.array([float(record[f"x{i}"]) for i in range(4)])
    return np.tanh(x @ _W).tolist()


linear = Linear()
