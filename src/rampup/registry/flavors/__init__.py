"""Model flavors: one module per artifact kind behind the :class:`Flavor` interface.

>>> detect_flavor("acme.models:Scorer").name
'python'
>>> get_flavor("onnx").name
'onnx'
>>> sorted(FLAVORS)
['mlflow', 'onnx', 'python', 'sklearn']
"""

from __future__ import annotations

from pathlib import Path

from rampup.errors import FlavorError, NotFoundError
from rampup.registry.flavors.base import Flavor, Location, Source
from rampup.registry.flavors.mlflow import MlflowFlavor
from rampup.registry.flavors.onnx import OnnxFlavor
from rampup.registry.flavors.python import PythonFlavor
from rampup.registry.flavors.sklearn import SklearnFlavor

# Detection order matters: a Python spec is checked before anything touches the disk.
_ORDER: tuple[Flavor, ...] = (PythonFlavor(), MlflowFlavor(), OnnxFlavor(), SklearnFlavor())
FLAVORS: dict[str, Flavor] = {f.name: f for f in _ORDER}


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``."""
    try:
        return FLAVORS[name]
    except KeyError:
        raise FlavorError(f"unknown flavor {name!r}",
                          fix=f"use one of: auto, {', '.join(sorted(FLAVORS))}") from None


def detect_flavor(source: Source) -> Flavor:
    """The flavor whose ``detect`` accepts ``source``."""
    for flavor in _ORDER:
        if flavor.detect(source):
            return flavor
    p = Path(source)
    if not p.exists():
        raise NotFoundError(f"artifact {source} does not exist",
                            fix="check the path, or use path/to/file.py:Name for Python models")
    what = "folder without an MLmodel file" if p.is_dir() else f"'{p.suffix or p.name}' file"
    raise FlavorError(
        f"cannot tell the flavor of {source}: a {what}",
        fix="use a .joblib/.pkl/.pickle (scikit-learn), .onnx, an MLflow model folder, "
            "or path/to/file.py:Name; or pass --flavor")


__all__ = ["FLAVORS", "Flavor", "Location", "Source", "detect_flavor", "get_flavor"]
