"""``predict_batch``: score a CSV or Parquet file chunk by chunk into a Parquet file.

Each chunk is routed like realtime traffic (the model's current deployment, sticky by
the key column if given, or one pinned version), validated per version with the
realtime rules, predicted per version, and written in input order. Bad rows go to the
errors CSV with their row numbers instead of stopping the run; when a model raises on
a chunk the chunk is retried row by row so only the rows that fail are reported.
Every prediction is logged (role ``batch``, one request id for the run) without
dropping any, and the run is recorded as an audit event.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from rampup.batch.columns import Arr
from rampup.batch.output import (
    FEATURE_TYPES,
    ErrorWriter,
    OutputWriter,
    column_types,
    output_schema,
    prediction_array,
    prediction_type,
    proba_classes,
)
from rampup.batch.reader import Chunk, InputFile, InputShape
from rampup.batch.routing import assign_versions, groups, row_keys
from rampup.batch.validate import Problem, extra_columns, validate_frame
from rampup.batch.versions import Version, load_versions, predict_rows
from rampup.errors import ValidationError
from rampup.predlog.ids import new_id
from rampup.predlog.writer import LogWriter, PredictionRecord
from rampup.registry.registry import Registry
from rampup.registry.schema import MEDIA_DTYPES, Feature
from rampup.rollout.router import Router
from rampup.security.privacy import Privacy
from rampup.store import Database

log = logging.getLogger("rampup.batch")

Progress = Callable[[int, int | None], None]
LOG_DRAIN_TIMEOUT = 600.0  # seconds the end of a run waits for the prediction log to drain


@dataclass
class BatchSummary:
    """What a batch run did. ``versions``: rows predicted by each version."""

    rows: int
    predicted: int
    failed: int
    versions: dict[str, int]
    output: Path | str  # a URL when the output was published to an object store
    errors: Path | str | None
    seconds: float
    request_id: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output"] = str(self.output)
        d["errors"] = str(self.errors) if self.errors is not None else None
        return d


class ProblemSink(Protocol):
    """Where a chunk's bad rows go: the errors file (:class:`ErrorWriter`) or, in a Ray
    worker, a list sent back to the driver that writes the file."""

    def write(self, problems: Sequence[Problem]) -> None: ...


def default_errors_path(output: Path) -> Path:
    """``<output stem>.errors.csv`` next to the output."""
    return output.with_name(f"{output.stem}.errors.csv")


def batch_paths(input_path: str | Path, output_path: str | Path,
                errors_path: str | Path | None) -> tuple[Path, Path, Path]:
    """The input, output and errors files of a run (the errors file by default next to the
    output); a ValidationError when an output would overwrite the input."""
    source, target = Path(input_path), Path(output_path)
    errors_file = Path(errors_path) if errors_path is not None else default_errors_path(target)
    if source.resolve() in (target.resolve(), errors_file.resolve()):
        raise ValidationError(f"the output would overwrite the input {source}",
                              fix="write the output to another file")
    return source, target, errors_file


def predict_batch(
    store: Database, registry: Registry, model: str, input_path: str | Path,
    output_path: str | Path, *, errors_path: str | Path | None = None,
    key_column: str | None = None, version: str | None = None, chunk_size: int = 10_000,
    log: bool = True, progress: Progress | None = None, actor: str = "cli",
    rng: random.Random | None = None, privacy: Privacy | None = None,
) -> BatchSummary:
    """Predict every row of ``input_path`` into ``output_path``; see the module docstring.
    ``privacy``: the project's rules for the logged rows (the output file is the caller's
    own data and keeps its inputs)."""
    t0 = time.perf_counter()
    source, target, errors_file = batch_paths(input_path, output_path, errors_path)
    router, versions = load_versions(store, registry, model, version, rng)
    folder = None
    try:
        if source.is_dir():  # a folder of images or clips: a manifest of its files
            folder = tempfile.TemporaryDirectory(prefix="rampup-manifest-")
            source = folder_manifest(source, versions, Path(folder.name))
        return _predict_file(store, model, source, target, errors_file, router, versions,
                             key_column=key_column, version=version, chunk_size=chunk_size,
                             log=log, progress=progress, actor=actor, t0=t0,
                             shown=str(input_path), privacy=privacy)
    finally:
        if folder is not None:
            folder.cleanup()


def folder_manifest(folder: Path, versions: dict[str, Version], into: Path) -> Path:
    """A CSV manifest of the image (or audio) files of ``folder`` for the versions' one
    binary feature: column ``file`` (the name) and the feature (the absolute path)."""
    from rampup.inputs.files import media_files

    binary = {(f.name, f.dtype) for v in versions.values() for f in v.schema.features
              if f.dtype in ("image", "audio")}
    if len(binary) != 1:
        raise ValidationError(
            f"{folder} is a folder, but the model takes "
            f"{'no' if not binary else len(binary)} image or audio features",
            fix="pass a CSV/Parquet file (a manifest naming the files per feature)")
    (name, dtype), = binary
    files = media_files(folder, dtype)
    if not files:
        raise ValidationError(f"{folder} holds no {dtype} files",
                              fix="use .png/.jpg/.jpeg for images, .wav/.flac for audio")
    path = into / "manifest.csv"
    pd.DataFrame({"file": [p.name for p in files],
                  name: [str(p.resolve()) for p in files]}).to_csv(path, index=False)
    return path


def _predict_file(store: Database, model: str, source: Path, target: Path, errors_file: Path,
                  router: Router, versions: dict[str, Version], *, key_column: str | None,
                  version: str | None, chunk_size: int, log: bool, progress: Progress | None,
                  actor: str, t0: float, shown: str,
                  privacy: Privacy | None = None) -> BatchSummary:
    with InputFile(source, chunk_size) as infile:
        if key_column is not None and key_column not in infile.columns:
            raise ValidationError(f"key column {key_column!r} is not in {source.name}",
                                  fix=f"use one of: {', '.join(infile.columns[:30])}")
        run = Run(model, infile, router, versions, key_column, new_id())
        schema = run.output_schema()
        out = OutputWriter(target, schema)
        errors = ErrorWriter(errors_file)
        writer = LogWriter(store, queue_size=max(2 * chunk_size, 20_000)) if log else None
        if writer is not None:
            writer.privacy = privacy
            writer.start()
        try:
            if progress is not None:
                progress(0, infile.total)
            for chunk in infile.chunks():
                errors.write(infile.take_invalid())
                out.write(run.chunk(chunk, errors, writer, schema))
                if progress is not None:
                    progress(out.rows + errors.bad_rows, infile.total)
            errors.write(infile.take_invalid())
            out.commit()
            errors_written = errors.commit()
            if writer is not None:
                writer.flush(timeout=LOG_DRAIN_TIMEOUT)  # a batch run loses nothing...
        except BaseException:
            out.abort()
            errors.abort()
            raise
        finally:
            if writer is not None:
                writer.stop()
    if writer is not None and (writer.stats.dropped or writer.stats.failed):
        lost = writer.stats.dropped + writer.stats.failed  # ...unless the store refused
        run.warnings.append(f"{lost:,} prediction log records could not be written "
                            f"({writer.stats.last_error or 'the store was too slow'})")
    summary = BatchSummary(
        rows=out.rows + errors.bad_rows, predicted=out.rows, failed=errors.bad_rows,
        versions=dict(run.counts), output=target, errors=errors_written,
        seconds=time.perf_counter() - t0, request_id=run.request_id, warnings=run.warnings)
    if progress is not None:
        progress(summary.rows, summary.rows)
    store.events.add_event(actor, "predict_batch", model=model, version=version,
                           details={**summary.to_dict(), "input": shown})
    return summary


class Run:
    """The state of one run: versions, which columns are typed, counts, warnings. The
    local engine has one; the Ray engine has one per worker (and one on the driver for the
    schema and the warnings), each scoring its batches with :meth:`chunk`."""

    def __init__(self, model: str, infile: InputFile | InputShape, router: Router,
                 versions: dict[str, Version], key_column: str | None, request_id: str) -> None:
        self.model = model
        self.infile = infile
        self.router = router
        self.versions = versions
        self.key_column = key_column
        self.request_id = request_id
        self.counts: dict[str, int] = dict.fromkeys(versions, 0)
        self.warnings = _column_warnings(infile, versions, key_column)
        self.typed = _typed_features(infile.columns, list(versions.values()))

    def output_schema(self) -> pa.Schema:
        """The output file's schema: input columns, then the prediction columns."""
        outputs = [v.output for v in self.versions.values()]
        return output_schema(column_types(self.infile.schema, self.typed, self.infile.text),
                             prediction_type(outputs), proba_classes(outputs))

    def chunk(self, chunk: Chunk, errors: ProblemSink, writer: LogWriter | None,
              schema: pa.Schema) -> dict[str, pa.Array]:
        table, n = chunk.table, len(chunk.table)
        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        keys = row_keys(table.column(self.key_column).to_pylist()) if self.key_column else None
        assigned = assign_versions(self.router, keys, n)
        res = _Results(n, [f.name[6:] for f in schema if f.name.startswith("proba_")],
                       self.typed)
        for name, pos in groups(assigned):
            v = self.versions[name]
            sub = frame if len(pos) == n else frame.take(pos)
            checked = validate_frame(sub, v.schema, rows=chunk.rows[pos], text=self.infile.text,
                                     base_dir=self.infile.path.parent)
            errors.write(checked.problems)
            good = pos[checked.good]
            if not len(good):
                continue
            t0 = time.perf_counter()
            ok, out, failures = predict_rows(v, checked.batch)
            ms = (time.perf_counter() - t0) * 1000.0
            errors.write([(int(chunk.rows[good[k]]), "", f"model error: {msg}")
                          for k, msg in failures])
            where = good[ok]
            ids = new_ids(len(where))
            res.fill(where, name, ids, out, {c: _pick(checked.batch.columns[c], ok)
                                             for c in self.typed})
            self.counts[name] += len(where)
            if writer is not None:
                self._log(writer, v, checked.batch.records(), ok, ids, out, failures, ms,
                          keys, good)
        return res.columns(table, schema)

    def _log(self, writer: LogWriter, v: Version, inputs: list[dict[str, Any]], ok: Arr,
             ids: list[str], out: Any, failures: list[tuple[int, str]], ms: float,
             keys: Sequence[str | None] | None, good: Arr) -> None:
        now = time.time()
        conf = out.confidence
        records = []
        for j, k in enumerate(np.flatnonzero(ok).tolist()):
            key = keys[good[k]] if keys is not None else None
            records.append(PredictionRecord(
                ids[j], self.request_id, now, self.model, v.name, "batch", inputs[k],
                out.record(j), conf[j] if conf is not None else None, ms, None, key))
        for k, msg in failures:
            key = keys[good[k]] if keys is not None else None
            records.append(PredictionRecord(new_id(), self.request_id, now, self.model, v.name,
                                            "batch", inputs[k], None, None, ms, msg, key))
        writer.submit_blocking(records)


def new_ids(n: int) -> list[str]:
    """``n`` prediction ids in the format of :func:`rampup.predlog.ids.new_id`, at once.

    >>> a, b = new_ids(2)
    >>> len(a), a[:12] == b[:12], a != b
    (32, True, True)
    """
    prefix = f"{time.time_ns() // 1_000_000:012x}"
    rand = os.urandom(10 * n).hex()
    return [prefix + rand[20 * i:20 * i + 20] for i in range(n)]


def _pick(values: list[Any], ok: Arr) -> Arr:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr[ok]


class _Results:
    """Per-row outputs of one chunk, filled per version group, read out in row order."""

    def __init__(self, n: int, classes: list[str], typed: dict[str, Feature]) -> None:
        self.done = np.zeros(n, bool)
        self.pred = np.full(n, None, dtype=object)
        self.conf = np.full(n, np.nan)
        self.version = np.full(n, None, dtype=object)
        self.ids = np.full(n, None, dtype=object)
        self.proba = {c: np.full(n, np.nan) for c in classes}
        self.clean = {name: np.full(n, None, dtype=object) for name in typed}
        self.typed = typed

    def fill(self, where: Arr, version: str, ids: list[str], out: Any,
             clean: dict[str, Arr]) -> None:
        self.done[where] = True
        self.pred[where] = _objects(out.predictions)
        if out.confidence is not None:
            self.conf[where] = [np.nan if c is None else c for c in out.confidence]
        self.version[where] = version
        self.ids[where] = ids
        if out.probabilities is not None:
            for c, arr in self.proba.items():
                arr[where] = [p.get(c, np.nan) for p in out.probabilities]
        for name, values in clean.items():
            self.clean[name][where] = values

    def columns(self, table: pa.Table, schema: pa.Schema) -> dict[str, pa.Array]:
        kept = np.flatnonzero(self.done)
        cols: dict[str, pa.Array] = {}
        for name in table.column_names:
            if name in self.typed:
                cols[name] = pa.array(self.clean[name][kept],
                                      type=FEATURE_TYPES[self.typed[name].dtype])
            else:
                cols[name] = table.column(name).take(pa.array(kept))
        cols["prediction"] = prediction_array(self.pred[kept].tolist(),
                                              schema.field("prediction").type)
        cols["confidence"] = _floats(self.conf[kept])
        cols["version"] = pa.array(self.version[kept].tolist(), pa.string())
        cols["prediction_id"] = pa.array(self.ids[kept].tolist(), pa.string())
        for c, arr in self.proba.items():
            cols[f"proba_{c}"] = _floats(arr[kept])
        return cols


def _objects(values: list[Any]) -> Arr:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _floats(values: Arr) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def _typed_features(columns: Sequence[str], versions: Sequence[Version]) -> dict[str, Feature]:
    """Input columns every version takes as a feature of the same type (written typed)."""
    out: dict[str, Feature] = {}
    for name in columns:
        feats = [v.schema.feature(name) for v in versions]
        if all(f is not None for f in feats) and len({f.dtype for f in feats if f}) == 1:
            first = feats[0]
            if first is not None and first.dtype not in MEDIA_DTYPES:  # files stay paths
                out[name] = first
    return out


def _column_warnings(infile: InputFile | InputShape, versions: dict[str, Version],
                     key_column: str | None) -> list[str]:
    warnings: list[str] = []
    ignore = [key_column] if key_column else []
    for v in versions.values():
        if v.schema.free_form:
            continue
        label = f"{v.name}" if len(versions) > 1 else "the model"
        extra = extra_columns(infile.columns, v.schema, ignore)
        if extra:
            warnings.append(f"column(s) {', '.join(extra[:20])} are not features of {label}: "
                            "ignored for prediction, copied to the output")
        absent = [f for f in v.schema.features if f.name not in infile.columns]
        required = [f.name for f in absent if not f.nullable]
        if required:
            warnings.append(f"required feature(s) {', '.join(required)} of {label} are not "
                            "columns of the input: every row routed to it fails")
        nullable = [f.name for f in absent if f.nullable]
        if nullable:
            warnings.append(f"feature(s) {', '.join(nullable)} of {label} are not columns "
                            "of the input: taken as missing")
    for w in warnings:
        log.info(w)
    return warnings
