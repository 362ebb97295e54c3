"""Batch files at fsspec URLs (``s3://bucket/in.parquet``): ``predict-batch`` reads and
writes local files, so a URL input is fetched into a temporary folder first, and the
output and errors files are written there and published to their URLs once the run has
succeeded (a failed run publishes nothing, as the local engine leaves no output file).
The errors file defaults to ``<output stem>.errors.csv`` next to the output, URL or not;
a stale remote errors file is removed when the run had no bad rows.

The input is copied whole to local disk before scoring; both engines read it from there
(the Ray engine's driver reads it too, see :mod:`rampup.batch.ray_engine`).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rampup.batch.runner import BatchSummary, default_errors_path
from rampup.errors import ValidationError
from rampup.registry import remote


@dataclass
class Staged:
    """Local stand-ins for a run's files, and where they go afterwards."""

    input: Path
    output: Path
    errors: Path | None
    output_url: str | None
    errors_url: str | None
    options: dict[str, Any]

    def publish(self, summary: BatchSummary) -> BatchSummary:
        """Upload the output (and errors) files to their URLs; the summary names them."""
        changes: dict[str, Any] = {}
        if self.output_url is not None:
            remote.publish(self.output, self.output_url, self.options, "output")
            changes["output"] = self.output_url
        if self.errors_url is not None:
            if summary.errors is not None:
                remote.publish(Path(summary.errors), self.errors_url, self.options,
                               "errors file")
                changes["errors"] = self.errors_url
            else:
                remote.remove(self.errors_url, self.options)
        return dataclasses.replace(summary, **changes) if changes else summary


def default_errors_url(output_url: str) -> str:
    """``<output stem>.errors.csv`` next to an output URL.

    >>> default_errors_url("s3://b/out/scores.parquet")
    's3://b/out/scores.errors.csv'
    """
    head, _, name = output_url.rpartition("/")
    return f"{head}/{PurePosixPath(name).stem}.errors.csv"


def _name(url: str) -> str:
    return PurePosixPath(url.split("?", 1)[0].rstrip("/")).name or "data"


@contextmanager
def staged(input_path: str | Path, output_path: str | Path,
           errors_path: str | Path | None = None,
           options: dict[str, Any] | None = None) -> Iterator[Staged]:
    """Local paths for a batch run's files, URLs among them staged in a temporary folder
    (removed on exit); call :meth:`Staged.publish` with the run's summary."""
    opts = dict(options or {})
    src, out = remote.local_path(input_path), remote.local_path(output_path)
    errs = None if errors_path is None else remote.local_path(errors_path)
    errors_url = None
    if errors_path is not None and errs is None:
        errors_url = str(errors_path)
    elif errors_path is None and out is None:
        errors_url = default_errors_url(str(output_path))
    if input_path == output_path or (errors_path is not None and input_path == errors_path):
        raise ValidationError(f"the output would overwrite the input {input_path}",
                              fix="write the output to another file")
    if src is not None and out is not None and errors_url is None:
        yield Staged(src, out, errs, None, None, opts)
        return
    with tempfile.TemporaryDirectory(prefix="rampup-batch-") as tmp:
        folder = Path(tmp)
        if src is None:
            src = remote.fetch(str(input_path), folder / "in" / _name(str(input_path)),
                               opts, "input file")
        output_url = None
        if out is None:
            output_url = str(output_path)
            out = folder / "out" / _name(output_url)
        if errors_url is not None:
            errs = folder / "errors" / _name(errors_url)
        elif errs is None:
            errs = default_errors_path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        yield Staged(src, out, errs, output_url, errors_url, opts)
