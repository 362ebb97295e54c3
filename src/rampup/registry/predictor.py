"""The Predictor protocol: a loaded version, whatever its flavor.

Serving and batch code hand a :class:`FeatureBatch` (validated, column-oriented) to
``predict`` and get a :class:`PredictionBatch` back with one entry per record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from rampup.registry.schema import InputSchema, OutputSpec

if TYPE_CHECKING:
    import pandas as pd


class FeatureBatch:
    """Validated records, held column-wise; flavors take the view they need.

    >>> b = FeatureBatch({"a": [1.0, 2.0], "b": ["x", None]}, n=2)
    >>> b.to_numpy(["a"]).shape
    (2, 1)
    >>> b.records()
    [{'a': 1.0, 'b': 'x'}, {'a': 2.0, 'b': None}]
    >>> b.slice(1, 2).columns
    {'a': [2.0], 'b': [None]}
    """

    __slots__ = ("_frame", "columns", "n", "raw")

    def __init__(self, columns: dict[str, list[Any]], n: int,
                 raw: list[Any] | None = None) -> None:
        self.columns = columns
        self.n = n
        self.raw = raw  # the original objects, for free-form models
        self._frame: pd.DataFrame | None = None

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], names: Sequence[str]) -> FeatureBatch:
        return cls({k: [r.get(k) for r in records] for k in names}, len(records))

    @classmethod
    def concat(cls, batches: Sequence[FeatureBatch]) -> FeatureBatch:
        if len(batches) == 1:
            return batches[0]
        names = list(batches[0].columns)
        cols = {k: [v for b in batches for v in b.columns[k]] for k in names}
        raw = None
        if all(b.raw is not None for b in batches):
            raw = [v for b in batches for v in (b.raw or [])]
        return cls(cols, sum(b.n for b in batches), raw)

    def slice(self, start: int, stop: int) -> FeatureBatch:
        raw = self.raw[start:stop] if self.raw is not None else None
        return FeatureBatch({k: v[start:stop] for k, v in self.columns.items()},
                            stop - start, raw)

    def records(self) -> list[dict[str, Any]]:
        if not self.columns and self.raw is not None:
            return list(self.raw)
        names = list(self.columns)
        return [dict(zip(names, row, strict=True))
                for row in zip(*self.columns.values(), strict=True)] if names else [
            {} for _ in range(self.n)]

    def to_frame(self) -> pd.DataFrame:
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame(self.columns)
        return self._frame

    def to_numpy(self, names: Sequence[str] | None = None,
                 dtype: Any = np.float64) -> np.ndarray[Any, Any]:
        names = list(names) if names is not None else list(self.columns)
        out = np.empty((self.n, len(names)), dtype=dtype)
        for j, k in enumerate(names):
            col = self.columns[k]
            if dtype is object:
                out[:, j] = col
                continue
            try:
                out[:, j] = col  # NumPy turns None into NaN for float dtypes, in C
            except (TypeError, ValueError):
                out[:, j] = [np.nan if v is None else v for v in col]
        return out


@dataclass(slots=True)
class PredictionBatch:
    """Outputs for a batch: ``predictions[i]`` is JSON-serialisable for record ``i``.

    ``probabilities[i]`` maps class label (as a string) to probability; ``confidence[i]``
    is the score the automation level uses (max class probability by default).
    """

    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    confidence: list[float | None] | None = None

    def __len__(self) -> int:
        return len(self.predictions)

    def slice(self, start: int, stop: int) -> PredictionBatch:
        return PredictionBatch(
            self.predictions[start:stop],
            self.probabilities[start:stop] if self.probabilities is not None else None,
            self.confidence[start:stop] if self.confidence is not None else None,
        )

    def record(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"prediction": self.predictions[i]}
        if self.probabilities is not None:
            out["probabilities"] = self.probabilities[i]
        if self.confidence is not None:
            out["confidence"] = self.confidence[i]
        return out


@runtime_checkable
class Predictor(Protocol):
    """A loaded model version. ``predict`` may be called from several threads at once
    (micro-batches run off the event loop), so implementations must be thread-safe;
    scikit-learn estimators and onnxruntime sessions are."""

    @property
    def flavor(self) -> str: ...

    @property
    def input_schema(self) -> InputSchema: ...

    @property
    def output(self) -> OutputSpec: ...

    def predict(self, batch: FeatureBatch) -> PredictionBatch: ...
