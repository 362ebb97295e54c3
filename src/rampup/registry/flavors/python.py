"""Plain Python models: a ``module:object`` spec whose object has ``predict``.

Two forms:

* ``path/to/file.py:Name`` — the file is copied into the artifact store and imported
  from there under a unique module name (``sys.path`` is left alone, so the file must
  not import its own siblings; make multi-file code an installed package instead);
* ``package.module:Name`` — imported with :func:`importlib.import_module`; the version's
  hash is that of the module's source file and its URI ``python:package.module:Name``.

If the object is a class it is instantiated without arguments. ``predict`` receives a
pandas DataFrame (columns in schema order) when the schema has features, otherwise the
list of raw JSON records. Optional attributes: ``predict_proba`` + ``classes_`` (a
classifier), ``input_schema`` (an :class:`InputSchema`, its dict, or a list of
feature dicts/names) or ``feature_names``, and ``output`` (an :class:`OutputSpec` or
its dict). Importing the code runs it: register only code you trust.

>>> parse_spec("models/score.py:Scorer")
('models/score.py', 'Scorer', True)
>>> parse_spec("acme.models:Scorer")
('acme.models', 'Scorer', False)
>>> parse_spec("model.joblib") is None
True
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rampup.errors import FlavorError, ModelError, NotFoundError
from rampup.registry.artifacts import ArtifactStore, hash_path
from rampup.registry.flavors.base import Flavor, Location, Source, as_records, class_batch
from rampup.registry.flavors.base import plain_classes as _plain_classes
from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.registry.schema import Feature, InputSchema, OutputSpec

MODULE_URI = "python:"
_SPEC = re.compile(r"^(?P<target>.+):(?P<obj>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


def parse_spec(source: Source) -> tuple[str, str, bool] | None:
    """``(target, object, is_file)`` for a ``module:object`` spec, else ``None``."""
    m = _SPEC.fullmatch(str(source))
    if m is None:
        return None
    target, obj = m["target"], m["obj"]
    if target.endswith(".py"):
        return target, obj, True
    if _MODULE.fullmatch(target):
        return target, obj, False
    return None


def _spec(source: Source) -> tuple[str, str, bool]:
    parsed = parse_spec(source)
    if parsed is None:
        raise FlavorError(f"{source!s} is not a Python model spec",
                          fix="use path/to/file.py:Name or package.module:Name")
    return parsed


def _module_file(module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise NotFoundError(f"Python module {module!r} cannot be found",
                            fix="install the package that provides it, or register "
                                "path/to/file.py:Name instead")
    if not spec.origin or not Path(spec.origin).is_file():
        raise FlavorError(f"module {module!r} has no source file to hash",
                          fix="point at a regular module (a .py file)")
    return Path(spec.origin)


def _import_file(path: Path) -> Any:
    # A unique name per stored file: two versions of "model.py" must not collide.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    name = f"_rampup_model_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FlavorError(f"cannot import {path}", fix="register a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickle look classes up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ModelError(f"importing {path.name} failed: {type(exc).__name__}: {exc}",
                         fix="fix the error in the model's code") from None
    return module


def load_object(location: Location) -> Any:
    """Import the spec and return the object (a class is instantiated)."""
    target, obj_path, is_file = _spec(location)
    if is_file:
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ModelError(f"importing {target} failed: {type(exc).__name__}: {exc}",
                             fix="install the package and fix its import errors") from None
    obj: Any = module
    for part in obj_path.split("."):
        if not hasattr(obj, part):
            raise FlavorError(f"{target} has no attribute {obj_path!r}",
                              fix="check the name after ':' in the spec")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise ModelError(f"creating {obj_path}() failed: {type(exc).__name__}: {exc}",
                             fix="the class must be constructible without arguments") from None
    if not callable(getattr(obj, "predict", None)):
        raise FlavorError(f"{obj_path} has no predict method",
                          fix="give the object a predict(inputs) method")
    return obj


def _declared_schema(obj: Any) -> InputSchema | None:
    declared = getattr(obj, "input_schema", None)
    if isinstance(declared, InputSchema):
        return declared
    if isinstance(declared, dict):
        return InputSchema.from_dict(declared)
    if isinstance(declared, list | tuple):
        return InputSchema([f if isinstance(f, Feature) else
                            Feature.from_dict(f) if isinstance(f, dict) else Feature(str(f))
                            for f in declared])
    names = getattr(obj, "feature_names", None)
    if isinstance(names, list | tuple) and names:
        return InputSchema([Feature(str(n)) for n in names])
    return None


def _declared_output(obj: Any) -> OutputSpec:
    declared = getattr(obj, "output", None)
    if isinstance(declared, OutputSpec):
        return declared
    if isinstance(declared, dict):
        return OutputSpec.from_dict(declared)
    classes = getattr(obj, "classes_", None)
    if classes is not None:
        return OutputSpec("class", _plain_classes(classes),
                          has_probabilities=callable(getattr(obj, "predict_proba", None)))
    return OutputSpec("free")


class PythonPredictor:
    """A user object with ``predict`` behind the Predictor protocol."""

    flavor = "python"

    def __init__(self, obj: Any, schema: InputSchema, output: OutputSpec) -> None:
        self.obj = obj
        self.input_schema = schema
        self.output = output
        self._proba = output.has_probabilities and callable(getattr(obj, "predict_proba", None))

    def _inputs(self, batch: FeatureBatch) -> Any:
        if self.input_schema.features:
            return batch.to_frame()[self.input_schema.names]
        return list(batch.raw) if batch.raw is not None else batch.records()

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        x = self._inputs(batch)
        preds = self.obj.predict(x)
        if not self._proba:
            return PredictionBatch(as_records(preds, batch.n))
        proba = self.obj.predict_proba(x)
        if not (isinstance(proba, list) and proba and isinstance(proba[0], dict)):
            proba = np.asarray(proba, dtype=np.float64)
        return class_batch(preds, proba, self.output.classes)


class PythonFlavor(Flavor):
    name = "python"
    allows_free_form = True

    def detect(self, source: Source) -> bool:
        return parse_spec(source) is not None

    def inspect(self, path: Location) -> tuple[InputSchema | None, OutputSpec]:
        obj = load_object(path)
        return _declared_schema(obj), _declared_output(obj)

    def load(self, path: Location, schema: InputSchema, output: OutputSpec) -> PythonPredictor:
        return PythonPredictor(load_object(path), schema, output)

    # -- artifacts: a copied .py file, or a reference to an importable module ----------

    def resolve_source(self, source: Source, base: Path) -> Source:
        target, obj, is_file = _spec(source)
        if is_file and not Path(target).is_absolute():
            return f"{base / target}:{obj}"
        return str(source)

    def check_source(self, source: Source) -> None:
        target, _, is_file = _spec(source)
        if not is_file:
            _module_file(target)
        elif not Path(target).is_file():
            raise NotFoundError(f"Python file {target} does not exist",
                                fix="check the path before ':' in path/to/file.py:Name")

    def same_artifact(self, uri: str, source: Source) -> bool:
        """Two objects of one file are different models."""
        return uri.rsplit(":", 1)[-1] == _spec(source)[1]

    def fingerprint(self, source: Source) -> str:
        target, _, is_file = _spec(source)
        return hash_path(Path(target) if is_file else _module_file(target))

    def save(self, source: Source, artifacts: ArtifactStore, model: str,
             version: str) -> tuple[str, str]:
        target, obj, is_file = _spec(source)
        if not is_file:
            return f"{MODULE_URI}{target}:{obj}", hash_path(_module_file(target))
        uri, digest = artifacts.put(model, version, Path(target))
        return f"{uri}:{obj}", digest

    def locate(self, uri: str, artifacts: ArtifactStore) -> Location:
        if uri.startswith(MODULE_URI):
            return uri[len(MODULE_URI):]
        base, obj = uri.rsplit(":", 1)
        return f"{artifacts.path(base)}:{obj}"

    def stored_path(self, uri: str, artifacts: ArtifactStore) -> Path | None:
        if uri.startswith(MODULE_URI):
            return None  # the module is installed code; it is not copied
        return artifacts.path(uri.rsplit(":", 1)[0])

    def source_dir(self, source: Source) -> Path | None:
        target, _, is_file = _spec(source)
        return Path(target).parent if is_file else _module_file(target).parent
