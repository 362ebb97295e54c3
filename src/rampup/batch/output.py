"""The batch output: a Parquet file written chunk by chunk, and a CSV of bad rows.

The output schema is fixed before the first row: the input columns (CSV feature
columns typed as the model's schema says, everything else as read), then
``prediction``, ``confidence``, ``version``, ``prediction_id`` and one
``proba_<class>`` column per class when a version gives probabilities. Both files are
written under a temporary name and moved into place when complete, so a failed run
never leaves a file that looks finished.

>>> from rampup.registry.schema import OutputSpec
>>> prediction_type([OutputSpec("class", (0, 1), True), OutputSpec("class", (1, 2), True)])
DataType(int64)
>>> prediction_type([OutputSpec("class", (0, 1)), OutputSpec("number")])
DataType(double)
>>> prediction_type([OutputSpec("class", ("no", "yes")), OutputSpec("class", (True, False))])
DataType(string)
>>> proba_classes([OutputSpec("class", ("no", "yes"), True), OutputSpec("number")])
['no', 'yes']
>>> prediction_array([{"label": "a"}, "b", None], pa.string()).to_pylist()
['{"label":"a"}', 'b', None]
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from rampup.batch.validate import Problem
from rampup.errors import ModelError, ValidationError
from rampup.registry.schema import Feature, OutputSpec

OUTPUT_COLUMNS = ("prediction", "confidence", "version", "prediction_id")
FEATURE_TYPES: dict[str, pa.DataType] = {"float": pa.float64(), "int": pa.int64(),
                                         "bool": pa.bool_(), "str": pa.string()}


def _class_type(classes: Sequence[Any]) -> pa.DataType:
    if all(type(c) is bool for c in classes):
        return pa.bool_()
    if all(type(c) is int for c in classes):
        return pa.int64()
    if all(type(c) in (int, float) for c in classes):
        return pa.float64()
    return pa.string()


def prediction_type(outputs: Sequence[OutputSpec]) -> pa.DataType:
    """One Arrow type for the predictions of all versions (JSON text when they differ)."""
    types = set()
    for out in outputs:
        if out.kind == "class" and out.classes:
            types.add(_class_type(out.classes))
        elif out.kind == "number":
            types.add(pa.float64())
        else:
            types.add(pa.string())
    if len(types) == 1:
        return types.pop()
    if types <= {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def proba_classes(outputs: Sequence[OutputSpec]) -> list[str]:
    """Classes of every version with probabilities, in first-seen order, as strings."""
    seen: dict[str, None] = {}
    for out in outputs:
        if out.has_probabilities and out.classes:
            seen.update(dict.fromkeys(str(c) for c in out.classes))
    return list(seen)


def column_types(input_schema: pa.Schema, features: dict[str, Feature],
                 text: bool) -> pa.Schema:
    """The input columns as written: CSV text columns that are features get their type."""
    fields = []
    for field in input_schema:
        feat = features.get(field.name)
        if text and feat is not None:
            fields.append(pa.field(field.name, FEATURE_TYPES[feat.dtype]))
        else:
            fields.append(field)
    return pa.schema(fields)


def output_schema(inputs: pa.Schema, prediction: pa.DataType, classes: Sequence[str]) -> pa.Schema:
    names = [*OUTPUT_COLUMNS, *(f"proba_{c}" for c in classes)]
    clash = [n for n in names if n in inputs.names]
    if clash:
        raise ValidationError(
            f"the input has column(s) {', '.join(clash)}, which the output adds itself",
            fix="rename or drop those columns from the input file")
    return pa.schema([*inputs, pa.field("prediction", prediction),
                      pa.field("confidence", pa.float64()), pa.field("version", pa.string()),
                      pa.field("prediction_id", pa.string()),
                      *(pa.field(f"proba_{c}", pa.float64()) for c in classes)])


def prediction_array(values: list[Any], type_: pa.DataType) -> pa.Array:
    """Predictions as an Arrow array of ``type_`` (non-text values as JSON in text columns)."""
    if type_ == pa.string():
        values = [v if v is None or isinstance(v, str) else orjson.dumps(
            v, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
            for v in values]
    try:
        return pa.array(values, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ModelError(f"the model returned predictions that are not {type_}: {exc}",
                         fix="make predictions match the classes the version was registered "
                             "with") from None


def _temp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


class OutputWriter:
    """Parquet written incrementally; moved to ``path`` by :meth:`commit`."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _temp(path)
        self._writer = pq.ParquetWriter(self._tmp, schema)
        self.rows = 0

    def write(self, columns: dict[str, pa.Array]) -> None:
        table = pa.table([columns[f.name] for f in self.schema], schema=self.schema)
        self._writer.write_table(table)
        self.rows += len(table)

    def commit(self) -> None:
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


class ErrorWriter:
    """The bad rows as CSV (``row,field,reason``), created at the first problem."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = _temp(path)
        self._file: IO[str] | None = None
        self._csv: Any = None
        self.bad_rows = 0  # distinct rows (each call holds whole rows of its own)
        self.count = 0

    def write(self, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        if self._csv is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._tmp.open("w", newline="", encoding="utf-8")
            self._csv = csv.writer(self._file)
            self._csv.writerow(["row", "field", "reason"])
        self._csv.writerows(problems)
        self.count += len(problems)
        self.bad_rows += len({p[0] for p in problems})

    def commit(self) -> Path | None:
        """Move the file into place (or remove a stale one): the path, or None if no errors."""
        if self._file is None:
            self.path.unlink(missing_ok=True)
            return None
        self._file.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
