"""Export the prediction log, joined with each prediction's latest label, to Parquet or CSV.

Rows are streamed from the store in chunks and appended to the file, so memory stays
constant however long the log. Each row becomes the prediction's metadata, its decoded
output (``prediction``, ``confidence``, ``probabilities`` as JSON text), its ``label``
and one column per input feature. The first chunk fixes the file's schema; later chunks
are cast to it.

>>> row = {"id": "a", "request_id": "a", "ts": 0.0, "model": "m", "version": "v1",
...        "role": "answer", "stage": None, "request_key": None, "latency_ms": 1.0,
...        "error": None, "confidence": None, "label": 1, "labeled_at": 5.0,
...        "inputs": '{"age": 41, "version": "b"}',
...        "outputs": '{"prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}, "confidence": 0.8}'}
>>> meta, features = to_columns([row])
>>> meta["prediction"], meta["confidence"], meta["probabilities"], meta["label"]
([1], [0.8], ['{"0":0.2,"1":0.8}'], [1])
>>> features
{'age': [41], 'input.version': ['b']}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rampup.errors import ConfigError, ValidationError
from rampup.store import Database

TIME_TYPE = pa.timestamp("us", tz="UTC")

# The metadata columns, in file order. ``None``: the type is inferred from the first chunk.
META_TYPES: dict[str, pa.DataType | None] = {
    "id": pa.string(), "request_id": pa.string(), "ts": pa.float64(), "time": TIME_TYPE,
    "model": pa.string(), "version": pa.string(), "role": pa.string(), "stage": pa.string(),
    "request_key": pa.string(), "latency_ms": pa.float64(), "error": pa.string(),
    "prediction": None, "confidence": pa.float64(), "probabilities": pa.string(),
    "label": None, "labeled_at": pa.float64(),
}
_COPIED = ("id", "request_id", "ts", "model", "version", "role", "stage", "request_key",
           "latency_ms", "error", "labeled_at")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    rows: int
    labelled: int
    path: Path
    dropped_columns: tuple[str, ...] = ()  # features first seen after the schema was fixed


# -- pure helpers ------------------------------------------------------------------------

def feature_column(name: str) -> str:
    """The column an input feature is written to: its own name unless that is taken.

    >>> feature_column("age"), feature_column("label")
    ('age', 'input.label')
    """
    return f"input.{name}" if name in META_TYPES else name


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def to_columns(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, list[Any]],
                                                          dict[str, list[Any]]]:
    """Stored prediction rows → (metadata columns, input feature columns), as lists.

    Outputs and inputs are decoded from their JSON text; ``time`` is left to the caller.
    """
    n = len(rows)
    meta: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in _COPIED}
    prediction: list[Any] = [None] * n
    probabilities: list[str | None] = [None] * n
    confidence: list[Any] = [r.get("confidence") for r in rows]
    features: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        raw = row.get("outputs")
        outputs = orjson.loads(raw) if raw else None
        if isinstance(outputs, dict):
            prediction[i] = outputs.get("prediction")
            probs = outputs.get("probabilities")
            if probs is not None:
                probabilities[i] = _json(probs)
            if confidence[i] is None:
                confidence[i] = outputs.get("confidence")
        else:  # a free-form output, or none (the prediction failed)
            prediction[i] = outputs
        raw = row.get("inputs")
        inputs = orjson.loads(raw) if raw else {}
        if not isinstance(inputs, dict):
            inputs = {"input": inputs}
        for name, value in inputs.items():
            column = features.get(name)
            if column is None:
                column = features[name] = [None] * n
            column[i] = value
    meta.update(prediction=prediction, confidence=confidence, probabilities=probabilities,
                label=[r.get("label") for r in rows])
    return meta, {feature_column(k): v for k, v in features.items()}


def _infer(values: list[Any]) -> pa.Array:
    """An Arrow array of the values' own type. Mixed types, lists and objects become text
    (JSON for everything but strings), so every column stays flat and castable."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None
    if arr is None or pa.types.is_nested(arr.type):
        return pa.array([v if v is None or isinstance(v, str) else _json(v) for v in values],
                        pa.string())
    return arr


class _Encoder:
    """Turns chunks of stored rows into Arrow tables that all share the first one's schema."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.dropped: dict[str, None] = {}

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        meta, features = to_columns(rows)
        columns = {**meta, **features}
        ts = np.asarray(columns["ts"], dtype=np.float64)
        arrays: dict[str, pa.Array] = {
            "time": pa.array(np.round(ts * 1e6).astype(np.int64), TIME_TYPE)}
        if self.schema is None:
            for name, values in columns.items():
                arrays[name] = self._first(name, values)
            ordered = [*META_TYPES, *features]
            table = pa.table({n: arrays[n] for n in ordered})
            self.schema = table.schema
            return table
        for field in self.schema:
            if field.name == "time":
                continue
            got = columns.get(field.name)
            arrays[field.name] = (pa.nulls(len(rows), field.type) if got is None
                                  else _cast(field.name, got, field.type, rows))
        self.dropped.update((n, None) for n in features if n not in self.schema.names)
        return pa.Table.from_arrays([arrays[n] for n in self.schema.names], schema=self.schema)

    @staticmethod
    def _first(name: str, values: list[Any]) -> pa.Array:
        known = META_TYPES.get(name)
        if known is not None:
            return pa.array(values, known)
        arr = _infer(values)
        if pa.types.is_null(arr.type):  # nothing seen yet: text takes anything later
            return pa.nulls(len(values), pa.string())
        if name not in META_TYPES and pa.types.is_integer(arr.type):
            return arr.cast(pa.float64())  # a feature sent as 3 here may be 3.5 later
        return arr


def _cast(name: str, values: list[Any], target: pa.DataType,
          rows: Sequence[Mapping[str, Any]]) -> pa.Array:
    arr = _infer(values)
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(values), target)
    try:
        return arr.cast(target)  # safe: never truncates or overflows silently
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        bad = next((r["id"] for r, v in zip(rows, values, strict=True) if v is not None
                    and not _fits(v, target)), rows[0]["id"])
        raise ValidationError(
            f"column {name!r} was {target} in the first rows exported but holds "
            f"{arr.type} values later (prediction {bad!r})", field=name,
            fix="export a narrower range (--since/--until) or one --version at a time, "
                "or export to .csv") from None


def _fits(value: Any, target: pa.DataType) -> bool:
    try:
        pa.array([value]).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


def _empty_schema() -> pa.Schema:
    return pa.schema([(k, t or pa.string()) for k, t in META_TYPES.items()])


# -- I/O ---------------------------------------------------------------------------------

class _Sink:
    """Parquet or CSV, written to a side file and moved into place when complete."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".pq", ".csv"):
            raise ConfigError(f"cannot export to {path.name!r}: unknown file type",
                              fix="name the output file *.parquet or *.csv")
        self.path = path
        self.csv = suffix == ".csv"
        self.tmp = path.with_name(f".{path.name}.part")
        self.writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = (pa_csv.CSVWriter(str(self.tmp), table.schema) if self.csv
                           else pq.ParquetWriter(str(self.tmp), table.schema))
        self.writer.write_table(table)

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def export_predictions(
    store: Database, model: str, out_path: str | Path, *,
    since: float | None = None, until: float | None = None, version: str | None = None,
    roles: Sequence[str] | None = None, labelled_only: bool = False,
    chunk_size: int = 10_000, progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write ``model``'s predictions in ``[since, until)`` (oldest first) to ``out_path``.

    ``progress`` is called with the number of rows written so far after each chunk.
    The file appears only once complete.
    """
    if since is not None and until is not None and since >= until:
        raise ConfigError(f"the time range is empty: since ({since}) is not before "
                          f"until ({until})", fix="give --since a time before --until")
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, not {chunk_size}",
                          fix="pass a positive chunk size")
    sink = _Sink(Path(out_path))
    encoder = _Encoder()
    rows = labelled = 0
    stream = store.predictions.iter_predictions(
        model, since=since, until=until, version=version, roles=roles, with_labels=True,
        chunk_size=chunk_size)
    try:
        for chunk in _chunks(stream, labelled_only):
            sink.write(encoder.encode(chunk))
            rows += len(chunk)
            labelled += sum(r.get("label") is not None for r in chunk)
            if progress is not None:
                progress(rows)
        if sink.writer is None:
            sink.write(_empty_schema().empty_table())
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    finally:
        close = getattr(stream, "close", None)  # give the store connection back at once
        if close is not None:
            close()
    return ExportSummary(rows, labelled, sink.path, tuple(encoder.dropped))


def _chunks(chunks: Iterable[list[dict[str, Any]]],
            labelled_only: bool) -> Iterable[list[dict[str, Any]]]:
    for chunk in chunks:
        if labelled_only:
            chunk = [r for r in chunk if r.get("label") is not None]
        if chunk:
            yield chunk
