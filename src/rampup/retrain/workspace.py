"""Where a retraining run's files are kept: ``<workspace>/<model>/run-<id>/`` (dataset,
holdout, params, model, metrics, training log). The workspace is a folder (default
``retrain/`` in the project) or an fsspec URL (``s3://bucket/retrain``); a run at a URL
works in a local temporary folder that is published to its URL when the run ends (also
when it failed: its log is what explains it), then removed.

>>> import tempfile
>>> tmp = Path(tempfile.mkdtemp())
>>> with run_folder("runs", tmp, "credit", 7) as (local, kept):
...     _ = (local / "train.log").write_text("ok")
>>> kept == str(tmp / "runs" / "credit" / "run-7"), (local / "train.log").is_file()
(True, True)
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rampup.errors import RampupError
from rampup.registry import remote

log = logging.getLogger("rampup.retrain")


@contextmanager
def run_folder(workspace: str | Path, project_dir: Path, model: str, run_id: int,
               options: dict[str, Any] | None = None) -> Iterator[tuple[Path, str]]:
    """The run's local folder and where it is kept (the same folder, or its URL)."""
    name = f"run-{run_id}"
    local = remote.local_path(workspace)
    if local is not None:
        folder = (local if local.is_absolute() else project_dir / local) / model / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder, str(folder)
        return
    url = remote.join_url(str(workspace), model, name)
    tmp = Path(tempfile.mkdtemp(prefix=f"rampup-{name}-"))
    try:
        yield tmp, url
    finally:
        try:
            if any(tmp.iterdir()):
                remote.publish(tmp, url, options, "retraining workspace")
        except (OSError, RampupError) as exc:
            log.warning("could not keep the files of %s %s in %s: %s", model, name, url, exc)
        shutil.rmtree(tmp, ignore_errors=True)
