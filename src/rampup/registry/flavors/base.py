"""The flavor interface: recognise an artifact, read what it says about itself, load it.

A flavor is stateless. The registry uses it in this order: :meth:`Flavor.detect` (for
``flavor="auto"``), :meth:`Flavor.fingerprint` (idempotent re-registration),
:meth:`Flavor.save` (copy into the artifact store), :meth:`Flavor.locate` (URI → what
:meth:`Flavor.inspect` and :meth:`Flavor.load` take) and finally ``inspect``/``load``.
Most flavors only implement ``detect``, ``inspect`` and ``load``; the artifact methods
default to "a file or folder on disk".

Also here: converting model outputs to plain Python for :class:`PredictionBatch`.

>>> positional_names(3)
['f0', 'f1', 'f2']
>>> to_python(np.float32(0.5)), to_python(np.array([1, 2]))
(0.5, [1, 2])
>>> b = class_batch(np.array([1, 0]), np.array([[0.2, 0.8], [0.9, 0.1]]), [0, 1])
>>> b.probabilities[0], b.confidence
({'0': 0.2, '1': 0.8}, [0.8, 0.9])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rampup.errors import ModelError, NotFoundError
from rampup.registry.artifacts import ArtifactStore, hash_path
from rampup.registry.predictor import PredictionBatch, Predictor
from rampup.registry.schema import InputSchema, OutputSpec

Source = str | Path
"""What a user registers: a path, or for Python models a ``module:object`` spec."""

Location = str | Path
"""What :meth:`Flavor.locate` returns and ``inspect``/``load`` take."""


def positional_names(n: int) -> list[str]:
    """Names for features the artifact knows only by position (``f0 .. f{n-1}``)."""
    return [f"f{i}" for i in range(n)]


class Flavor(ABC):
    """One kind of model artifact."""

    name: ClassVar[str]
    #: whether a model may take free-form JSON (no feature list); otherwise the registry
    #: insists on a schema from the artifact, the reference data or a declaration.
    allows_free_form: ClassVar[bool] = False

    @abstractmethod
    def detect(self, source: Source) -> bool:
        """Whether ``source`` looks like an artifact of this flavor (cheap, no loading)."""

    @abstractmethod
    def inspect(self, path: Location) -> tuple[InputSchema | None, OutputSpec]:
        """What the artifact alone says about its inputs (``None``: nothing) and output."""

    @abstractmethod
    def load(self, path: Location, schema: InputSchema, output: OutputSpec) -> Predictor:
        """Load the artifact as a predictor taking ``schema`` and returning ``output``."""

    def library_versions(self) -> dict[str, str]:
        """Versions of the libraries this flavor loads with (recorded as metadata)."""
        return {}

    # -- artifact handling: sources that are plain files or folders --------------------

    def resolve_source(self, source: Source, base: Path) -> Source:
        """Make a relative ``source`` relative to ``base`` (the project folder)."""
        p = Path(source)
        return p if p.is_absolute() else base / p

    def check_source(self, source: Source) -> None:
        if not Path(source).exists():
            raise NotFoundError(f"artifact {source} does not exist",
                                fix="check the path to the model file or folder")

    def fingerprint(self, source: Source) -> str:
        """The content hash the artifact will have once stored."""
        return hash_path(Path(source))

    def save(self, source: Source, artifacts: ArtifactStore, model: str,
             version: str) -> tuple[str, str]:
        """Copy the artifact into the store; return ``(uri, hash)``."""
        return artifacts.put(model, version, Path(source))

    def locate(self, uri: str, artifacts: ArtifactStore) -> Location:
        return artifacts.path(uri)

    def same_artifact(self, uri: str, source: Source) -> bool:
        """Whether a stored version (its ``uri``) with the same hash is this ``source``.
        A file is its content; flavors whose spec names more (an object in a file) refine."""
        return True

    def stored_path(self, uri: str, artifacts: ArtifactStore) -> Path | None:
        """The copy in the artifact store whose hash is the version's (``None``: no copy)."""
        return artifacts.path(uri)

    def source_dir(self, source: Source) -> Path | None:
        """The folder the artifact came from (used to find its git commit)."""
        p = Path(source)
        return p if p.is_dir() else p.parent


# -- output conversion -----------------------------------------------------------------


def to_python(value: Any) -> Any:
    """Numpy/pandas values → plain, JSON-able Python values."""
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(v) for v in value]
    to_list = getattr(value, "tolist", None)  # pandas Series/Index
    if callable(to_list) and hasattr(value, "dtype"):
        return to_python(np.asarray(value))
    return value


def as_records(values: Any, n: int, what: str = "predict") -> list[Any]:
    """One JSON-able output per record from whatever a model returned."""
    if hasattr(values, "to_dict") and hasattr(values, "columns"):  # a DataFrame
        values = (values.iloc[:, 0].to_numpy() if len(values.columns) == 1
                  else values.to_dict(orient="records"))
    arr = values if isinstance(values, np.ndarray) else None
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 1:
        values = arr.ravel()
    out = to_python(values)
    if not isinstance(out, list):
        raise ModelError(f"{what} returned {type(values).__name__}, not one value per record",
                         fix="return a list or array with one entry per input record")
    if len(out) != n:
        raise ModelError(f"{what} returned {len(out)} values for {n} records",
                         fix="return exactly one prediction per input record")
    return out


def class_batch(predictions: Any, proba: Any, classes: Sequence[Any] | None) -> PredictionBatch:
    """Predictions + a probability matrix (rows x classes) or a list of {class: p} dicts."""
    preds = as_records(predictions, len(proba))
    if isinstance(proba, np.ndarray):
        keys = [str(c) for c in classes] if classes is not None else [
            str(i) for i in range(proba.shape[1])]
        if len(keys) != proba.shape[1]:
            raise ModelError(f"the model gives {proba.shape[1]} probabilities per record but "
                             f"has {len(keys)} classes",
                             fix="check the classes the model was trained with")
        rows = proba.astype(np.float64).tolist()
        probs = [dict(zip(keys, row, strict=True)) for row in rows]
        conf: list[float | None] = proba.max(axis=1).astype(np.float64).tolist() if len(
            keys) else [None] * len(rows)
        return PredictionBatch(preds, probs, conf)
    probs = [{str(k): float(v) for k, v in row.items()} for row in proba]
    return PredictionBatch(preds, probs, [max(p.values()) if p else None for p in probs])


def plain_classes(classes: Any) -> tuple[Any, ...]:
    """A model's ``classes_`` as a tuple of plain int/float/str/bool."""
    return tuple(to_python(list(np.asarray(classes).tolist())))
