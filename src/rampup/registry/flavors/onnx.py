"""ONNX models (``.onnx``), run with onnxruntime (the ``onnx`` extra).

Two input layouts are understood:

* one 2-D numeric tensor (what ``skl2onnx`` makes from ``FloatTensorType([None, n])``):
  the columns are positional, so feature names come from the declared schema or the
  reference data (in column order), else ``f0 .. f{n-1}``;
* several inputs of shape ``[None, 1]`` (one per column, e.g. a converted
  ``ColumnTransformer``): one feature per input, typed from the tensor type.

Outputs: a label tensor plus probabilities (``seq(map)`` from ZipMap, or a plain tensor
with ``zipmap=False``) make a classifier; a single float tensor makes a regressor. Class
labels are read from the graph when the ``onnx`` package is installed, otherwise from
the reference labels (or, with ZipMap, from the map keys at prediction time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rampup.errors import FlavorError, MissingExtraError, ModelError
from rampup.registry.flavors.base import (
    Flavor,
    Location,
    Source,
    as_records,
    class_batch,
    positional_names,
)
from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.registry.schema import DType, Feature, InputSchema, OutputSpec

_NUMPY: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_, "tensor(string)": object,
}
_DTYPE: dict[str, DType] = {
    "tensor(float)": "float", "tensor(double)": "float", "tensor(float16)": "float",
    "tensor(int64)": "int", "tensor(int32)": "int", "tensor(int8)": "int",
    "tensor(uint8)": "int", "tensor(bool)": "bool", "tensor(string)": "str",
}
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)", "tensor(bool)")


def _session(path: Path) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError("onnxruntime", "onnx", "ONNX models") from None
    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"onnxruntime cannot load {path.name}: {exc}",
                         fix="check that the file is a valid ONNX model") from None


def _is_matrix(inputs: list[Any]) -> bool:
    """One numeric 2-D tensor holding every feature as a column."""
    if len(inputs) != 1:
        return False
    inp = inputs[0]
    return inp.type != "tensor(string)" and len(inp.shape) == 2


def _graph_classes(path: Path) -> tuple[Any, ...] | None:
    """Class labels from classifier/ZipMap nodes (needs the ``onnx`` package)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        return None
    found: tuple[Any, ...] | None = None
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                found = tuple(int(v) for v in attr.ints)
            elif attr.name == "classlabels_strings" and attr.strings:
                found = tuple(s.decode("utf-8") for s in attr.strings)
        if node.op_type == "ZipMap" and found is not None:
            break
    return found


def _output_spec(outputs: list[Any], classes: tuple[Any, ...] | None) -> OutputSpec:
    first = outputs[0].type if outputs else ""
    if len(outputs) >= 2 and first in _LABEL_TYPES:
        proba = outputs[1].type
        has_proba = proba.startswith("seq(map(") or proba in ("tensor(float)", "tensor(double)")
        return OutputSpec("class", classes, has_probabilities=has_proba)
    if len(outputs) == 1 and first in _LABEL_TYPES:
        return OutputSpec("class", classes)
    if len(outputs) == 1 and first in ("tensor(float)", "tensor(double)", "tensor(float16)"):
        return OutputSpec("number")
    return OutputSpec("free")


def _column(values: list[Any], dtype: Any) -> np.ndarray[Any, Any]:
    if dtype is object:
        col = np.array(["" if v is None else str(v) for v in values], dtype=object)
    elif np.issubdtype(dtype, np.floating):
        col = np.array([np.nan if v is None else v for v in values], dtype=dtype)
    else:
        col = np.array(values, dtype=dtype)
    return col.reshape(-1, 1)


class OnnxPredictor:
    """An onnxruntime session behind the Predictor protocol (sessions are thread-safe)."""

    flavor = "onnx"

    def __init__(self, session: Any, schema: InputSchema, output: OutputSpec) -> None:
        self.session = session
        self.input_schema = schema
        self.output = output
        self._inputs = [(i.name, _NUMPY.get(i.type, np.float32)) for i in session.get_inputs()]
        self._matrix = _is_matrix(session.get_inputs())
        if not self._matrix:
            missing = [n for n, _ in self._inputs if n not in schema.names]
            if missing:
                raise FlavorError(f"the ONNX model's inputs {missing} are not in the schema",
                                  fix="name the features like the model's inputs")
        self._n_outputs = len(session.get_outputs())

    def _feed(self, batch: FeatureBatch) -> dict[str, Any]:
        if self._matrix:
            name, dtype = self._inputs[0]
            return {name: batch.to_numpy(self.input_schema.names, dtype)}
        return {name: _column(batch.columns[name], dtype) for name, dtype in self._inputs}

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        outs = self.session.run(None, self._feed(batch))
        first = np.asarray(outs[0])
        if self.output.kind == "class" and self.output.has_probabilities and len(outs) >= 2:
            proba = outs[1]
            if not isinstance(proba, list):
                proba = np.asarray(proba)
            return class_batch(first.ravel(), proba, self.output.classes)
        if first.ndim == 2 and first.shape[1] == 1:
            first = first.ravel()
        return PredictionBatch(as_records(first, batch.n))


class OnnxFlavor(Flavor):
    name = "onnx"

    def detect(self, source: Source) -> bool:
        return Path(source).suffix.lower() == ".onnx"

    def inspect(self, path: Location) -> tuple[InputSchema | None, OutputSpec]:
        session = _session(Path(path))
        inputs = session.get_inputs()
        schema: InputSchema | None = None
        if _is_matrix(inputs):
            width = inputs[0].shape[1]
            if isinstance(width, int) and width > 0:
                schema = InputSchema([Feature(n, _DTYPE.get(inputs[0].type, "float"))
                                      for n in positional_names(width)])
        else:
            schema = InputSchema([Feature(i.name, _DTYPE.get(i.type, "float")) for i in inputs])
        return schema, _output_spec(session.get_outputs(), _graph_classes(Path(path)))

    def load(self, path: Location, schema: InputSchema, output: OutputSpec) -> OnnxPredictor:
        return OnnxPredictor(_session(Path(path)), schema, output)

    def library_versions(self) -> dict[str, str]:
        try:
            import onnxruntime
        except ImportError:  # pragma: no cover - depends on the install
            return {}
        return {"onnxruntime": str(onnxruntime.__version__)}
