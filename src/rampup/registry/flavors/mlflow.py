"""MLflow model folders (a directory with an ``MLmodel`` file).

* With a ``sklearn`` flavor the pickled model (``flavors.sklearn.pickled_model``) is
  unpickled directly — no MLflow install needed — and served like any scikit-learn
  model. As with every pickle, **loading runs code from the file**: register only
  models you trust.
* Otherwise (e.g. only ``python_function``) the folder is loaded with
  ``mlflow.pyfunc.load_model``, which needs the ``mlflow`` extra.

The input schema comes from the model signature (``signature.inputs``: a JSON list of
column specs with ``name`` and ``type``); tensor signatures have no names, so their
features are positional like an ONNX matrix input.

>>> s = signature_schema('[{"name": "age", "type": "long"}, {"name": "city", "type": "string", '
...                      '"required": false}]')
>>> [(f.name, f.dtype, f.nullable) for f in s.features]
[('age', 'int', False), ('city', 'str', True)]
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import yaml

from rampup.errors import FlavorError, MissingExtraError, ModelError
from rampup.registry.flavors.base import Flavor, Location, Source, as_records, positional_names
from rampup.registry.flavors.sklearn import SklearnPredictor, inspect_estimator, read_model
from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
from rampup.registry.schema import DType, Feature, InputSchema, OutputSpec

MLMODEL = "MLmodel"
_TYPES: dict[str, DType] = {
    "double": "float", "float": "float", "long": "int", "integer": "int",
    "boolean": "bool", "string": "str", "datetime": "str", "binary": "str",
}


def read_mlmodel(path: Path) -> dict[str, Any]:
    file = path / MLMODEL
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlavorError(f"cannot read {file}: {exc.strerror}",
                          fix="pass the MLflow model folder (the one holding MLmodel)") from None
    except yaml.YAMLError as exc:
        raise FlavorError(f"{file} is not valid YAML: {exc}",
                          fix="re-save the model with mlflow") from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise FlavorError(f"{file} has no 'flavors' section",
                          fix="re-save the model with mlflow.<flavor>.save_model")
    return data


def signature_schema(inputs: str | list[Any] | None) -> InputSchema | None:
    """An InputSchema from an MLflow signature's ``inputs`` (JSON text or a list)."""
    if inputs is None:
        return None
    specs = json.loads(inputs) if isinstance(inputs, str) else inputs
    if not isinstance(specs, list) or not specs:
        return None
    if all(isinstance(s, dict) and "name" in s for s in specs):
        return InputSchema([
            Feature(str(s["name"]), _TYPES.get(str(s.get("type")), "str"),
                    nullable=not s.get("required", True))
            for s in specs])
    if len(specs) == 1 and specs[0].get("type") == "tensor":  # one positional matrix
        shape = specs[0].get("tensor-spec", {}).get("shape", [])
        if len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0:
            return InputSchema([Feature(n) for n in positional_names(shape[1])])
    return None


def _unpickle(path: Path, fmt: str | None) -> Any:
    if fmt == "skops":  # MLflow 3's default for mlflow.sklearn.save_model
        raise FlavorError(f"{path.name} is in skops format, which rampup does not read",
                          fix="save the model with mlflow.sklearn.save_model(model, path, "
                              "serialization_format='cloudpickle')")
    if fmt in ("pickle", "cloudpickle"):
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except Exception as exc:
            raise ModelError(f"cannot unpickle {path.name}: {type(exc).__name__}: {exc}",
                             fix="install the libraries the model was saved with") from None
    return read_model(path)


def _sklearn_model(path: Path, conf: dict[str, Any]) -> Any:
    rel = conf.get("pickled_model")
    if not isinstance(rel, str):
        raise FlavorError("the MLmodel's sklearn flavor has no 'pickled_model'",
                          fix="re-save the model with mlflow.sklearn.save_model")
    file = (path / rel).resolve()
    if not file.is_relative_to(path.resolve()) or not file.is_file():
        raise FlavorError(f"the pickled model {rel!r} is not a file inside {path}",
                          fix="re-save the model with mlflow.sklearn.save_model")
    return _unpickle(file, conf.get("serialization_format"))


def _pyfunc_output(outputs: str | list[Any] | None) -> OutputSpec:
    """A single float output column is a number; anything else is free-form."""
    specs = json.loads(outputs) if isinstance(outputs, str) else outputs
    if isinstance(specs, list) and len(specs) == 1 and isinstance(specs[0], dict) and specs[
            0].get("type") in ("double", "float"):
        return OutputSpec("number")
    return OutputSpec("free")


class PyfuncPredictor:
    """An ``mlflow.pyfunc`` model: a DataFrame in, one output per row."""

    flavor = "mlflow"

    def __init__(self, model: Any, schema: InputSchema, output: OutputSpec) -> None:
        self.model = model
        self.input_schema = schema
        self.output = output

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        import pandas as pd

        frame = (batch.to_frame()[self.input_schema.names] if self.input_schema.features
                 else pd.DataFrame(batch.records()))
        return PredictionBatch(as_records(self.model.predict(frame), batch.n))


def _load_pyfunc(path: Path) -> Any:
    try:
        import mlflow.pyfunc
    except ImportError:
        raise MissingExtraError("mlflow", "mlflow", "MLflow pyfunc models") from None
    try:
        return mlflow.pyfunc.load_model(str(path))
    except Exception as exc:
        raise ModelError(f"mlflow cannot load {path}: {type(exc).__name__}: {exc}",
                         fix="check the model folder and its Python environment") from None


class MlflowFlavor(Flavor):
    name = "mlflow"

    def detect(self, source: Source) -> bool:
        p = Path(source)
        return p.is_dir() and (p / MLMODEL).is_file()

    def inspect(self, path: Location) -> tuple[InputSchema | None, OutputSpec]:
        path = Path(path)
        data = read_mlmodel(path)
        signature = data.get("signature") or {}
        schema = signature_schema(signature.get("inputs"))
        conf = data["flavors"].get("sklearn")
        if isinstance(conf, dict):
            art_schema, output = inspect_estimator(_sklearn_model(path, conf))
            return schema or art_schema, output
        _load_pyfunc(path)  # fail early (missing extra, broken folder) at registration
        return schema, _pyfunc_output(signature.get("outputs"))

    def load(self, path: Location, schema: InputSchema, output: OutputSpec) -> Predictor:
        path = Path(path)
        conf = read_mlmodel(path)["flavors"].get("sklearn")
        if isinstance(conf, dict):
            return SklearnPredictor(_sklearn_model(path, conf), schema, output, flavor="mlflow")
        return PyfuncPredictor(_load_pyfunc(path), schema, output)

    def check_source(self, source: Source) -> None:
        super().check_source(source)
        if not self.detect(source):
            raise FlavorError(f"{source} is not an MLflow model folder (no MLmodel file in it)",
                              fix="pass the folder that mlflow.<flavor>.save_model wrote")

    def source_dir(self, source: Source) -> Path | None:
        return Path(source)

    def library_versions(self) -> dict[str, str]:
        import sklearn

        out = {"scikit-learn": sklearn.__version__}
        try:
            import mlflow
        except ImportError:
            return out
        out["mlflow"] = str(mlflow.__version__)
        return out
