"""``predict-batch --engine ray``: the same run as :func:`rampup.batch.predict_batch`, its
batches scored by a pool of Ray actors through Ray Data.

How it flows: the driver (the ``rampup`` process) loads the versions once for the output
schema and the warnings, reads the file with the local engine's reader (the same CSV
parsing, row numbers and malformed-row reports) and hands its chunks, each with its row
numbers, to Ray Data (``from_arrow``: into the object store, which spills to disk). Reading
in the workers (``read_parquet``) stalled on a 2-CPU cluster: the scoring actors held every
CPU and the read tasks never started; the driver's read is cheap next to scoring.
The actors get the file's shape (:class:`~rampup.batch.reader.InputShape`: columns and
types), never the file itself, which may exist only on the driver (an ``s3://`` input is
staged there, see :mod:`rampup.batch.remote`).
``map_batches`` sends each batch to a :class:`Scorer` actor, which holds its own loaded
versions, router and :class:`~rampup.predlog.writer.LogWriter`, and scores the batch with
the local engine's :meth:`Run.chunk <rampup.batch.runner.Run.chunk>` — the same
validation, routing, prediction and per-row fallback. The actor **logs its own
predictions** to the shared store (SQLite file or PostgreSQL) and waits for them to be
written before it returns the batch: the inputs never travel back to the driver, the log
writes run in parallel, and a batch counts as done only once it is logged. It returns
the output columns (Arrow IPC) and the bad rows; the driver writes both files in input
order (Ray Data's ``preserve_order``), exactly as the local engine does.

Ray is imported here only inside functions: the package and the CLI load without it.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from rampup.batch.output import ErrorWriter, OutputWriter
from rampup.batch.reader import Chunk, InputFile, InputShape
from rampup.batch.runner import (
    LOG_DRAIN_TIMEOUT,
    BatchSummary,
    Progress,
    Run,
    batch_paths,
    folder_manifest,
)
from rampup.batch.validate import Problem
from rampup.batch.versions import load_versions
from rampup.errors import RampupError
from rampup.predlog.ids import new_id
from rampup.predlog.writer import LogWriter
from rampup.registry.registry import Registry
from rampup.runtime.ray_cluster import ray_session
from rampup.store import Database

if TYPE_CHECKING:
    from rampup.config import Settings
    from rampup.security.privacy import Privacy

log = logging.getLogger("rampup.batch")

ROW = "__rampup_row"  # the 1-based row numbers the driver gives the chunks


class _Problems:
    """A worker's bad rows for one batch (the driver writes the errors file)."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def write(self, problems: Sequence[Problem]) -> None:
        self.items.extend(problems)


class Scorer:
    """A Ray Data actor: its own store connection, versions, router and log writer; one
    :class:`Run` scoring every batch it is given. Plain Python (no Ray import): Ray pickles
    the class by reference and constructs it in the worker."""

    def __init__(self, settings: Settings, model: str, shape: InputShape, version: str | None,
                 key_column: str | None, request_id: str, log: bool,
                 privacy: Privacy | None, chunk_size: int) -> None:
        self.store = Database.open(settings.resolved_database_url, migrate=False)
        registry = Registry.from_settings(settings, self.store)
        router, versions = load_versions(self.store, registry, model, version, random.Random())
        self.run = Run(model, shape, router, versions, key_column, request_id)
        self.schema = self.run.output_schema()
        self.writer: LogWriter | None = None
        if log:
            self.writer = LogWriter(self.store, queue_size=max(2 * chunk_size, 20_000))
            self.writer.privacy = privacy
            self.writer.start()
        self._lost = 0

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = len(batch)
        rows = batch.column(ROW).to_numpy()
        batch = batch.drop_columns([ROW])
        problems = _Problems()
        before = dict(self.run.counts)
        columns = self.run.chunk(Chunk(batch, rows), problems, self.writer, self.schema)
        lost, error = 0, ""
        if self.writer is not None:
            self.writer.flush(timeout=LOG_DRAIN_TIMEOUT)
            total = self.writer.stats.dropped + self.writer.stats.failed
            lost, self._lost = total - self._lost, total
            error = self.writer.stats.last_error or ""
        out = pa.table([columns[f.name] for f in self.schema], schema=self.schema)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.schema) as ipc:
            ipc.write_table(out)
        counts = {k: v - before.get(k, 0) for k, v in self.run.counts.items()}
        return pa.table({
            "rows": [n], "output": [sink.getvalue().to_pybytes()],
            "problems": [orjson.dumps(problems.items)], "counts": [orjson.dumps(counts)],
            "lost": [lost], "lost_error": [error]})


def _cluster_cpus() -> int:
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))


def predict_batch_ray(
    settings: Settings, store: Database, registry: Registry, model: str,
    input_path: str | Path, output_path: str | Path, *, errors_path: str | Path | None = None,
    key_column: str | None = None, version: str | None = None, chunk_size: int = 10_000,
    log: bool = True, progress: Progress | None = None, actor: str = "cli",
    privacy: Privacy | None = None, address: str | None = None,
    workers: int | None = None) -> BatchSummary:
    """:func:`rampup.batch.predict_batch` on Ray: ``workers`` scoring actors (default: one
    per CPU of the cluster); see the module docstring."""
    t0 = time.perf_counter()
    source, target, errors_file = batch_paths(input_path, output_path, errors_path)
    router, versions = load_versions(store, registry, model, version)
    folder = None
    try:
        if source.is_dir():
            folder = tempfile.TemporaryDirectory(prefix="rampup-manifest-")
            source = folder_manifest(source, versions, Path(folder.name))
        with InputFile(source, chunk_size) as infile, ray_session(address, workers):
            if key_column is not None and key_column not in infile.columns:
                from rampup.errors import ValidationError

                raise ValidationError(f"key column {key_column!r} is not in {source.name}",
                                      fix=f"use one of: {', '.join(infile.columns[:30])}")
            run = Run(model, infile, router, versions, key_column, new_id())
            scorer = {"settings": settings, "model": model, "shape": infile.shape(),
                      "version": version, "key_column": key_column,
                      "request_id": run.request_id, "chunk_size": chunk_size, "log": log,
                      "privacy": privacy}
            summary = _score(run, infile, scorer, target, errors_file, chunk_size,
                             workers or _cluster_cpus(), progress, t0)
    finally:
        if folder is not None:
            folder.cleanup()
    summary.warnings = run.warnings + summary.warnings
    store.events.add_event(actor, "predict_batch", model=model, version=version,
                           details={**summary.to_dict(), "input": str(input_path),
                                    "engine": "ray"})
    return summary


def _score(run: Run, infile: InputFile, scorer: dict[str, Any], target: Path,
           errors_file: Path, chunk_size: int, workers: int, progress: Progress | None,
           t0: float) -> BatchSummary:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the output keeps the input's order
    ctx.enable_progress_bars = False
    out = OutputWriter(target, run.output_schema())
    errors = ErrorWriter(errors_file)
    counts = dict.fromkeys(run.versions, 0)
    lost, lost_error = 0, ""
    try:
        if progress is not None:
            progress(0, infile.total)
        tables = [c.table.append_column(ROW, pa.array(c.rows, pa.int64()))
                  for c in infile.chunks()]
        errors.write(infile.take_invalid())
        if not tables:
            tables = [infile.schema.empty_table().append_column(ROW, pa.array([], pa.int64()))]
        ds = ray.data.from_arrow(tables)
        scored = ds.map_batches(Scorer, fn_constructor_kwargs=scorer, batch_size=chunk_size,
                                batch_format="pyarrow", concurrency=workers, num_cpus=1)
        for part in _results(scored):
            errors.write([tuple(p) for p in orjson.loads(part["problems"])])
            table = pa.ipc.open_stream(part["output"]).read_all()
            out.write({name: table.column(name).combine_chunks() for name in table.column_names})
            for k, v in orjson.loads(part["counts"]).items():
                counts[k] = counts.get(k, 0) + v
            lost += part["lost"]
            lost_error = part["lost_error"] or lost_error
            if progress is not None:
                progress(out.rows + errors.bad_rows, infile.total)
        out.commit()
        errors_written = errors.commit()
    except BaseException:
        out.abort()
        errors.abort()
        raise
    warnings = []
    if lost:
        warnings.append(f"{lost:,} prediction log records could not be written "
                        f"({lost_error or 'the store was too slow'})")
    summary = BatchSummary(
        rows=out.rows + errors.bad_rows, predicted=out.rows, failed=errors.bad_rows,
        versions=counts, output=target, errors=errors_written,
        seconds=time.perf_counter() - t0, request_id=run.request_id, warnings=warnings)
    if progress is not None:
        progress(summary.rows, summary.rows)
    return summary


def _results(scored: Any) -> Iterator[dict[str, Any]]:
    """The scored batches' result rows in input order; a worker's RampupError (a broken
    version, a missing model) is raised here as itself, not as a Ray error."""
    try:
        for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield from batch.to_pylist()
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, RampupError):
                raise cause from None
            cause = cause.__cause__
        raise
