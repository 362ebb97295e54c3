"""Files that live at fsspec URLs beyond the artifacts: batch inputs and outputs, the
retraining workspace, reference data. Work happens on local copies: :func:`fetch` brings
a file (or a prefix's files) down, :func:`publish` puts a local file or folder up. The
filesystem, its credentials (``AWS_*`` for S3, or ``storage_options``) and the copy
routines are the object store's own (:mod:`rampup.registry.objectstore`).

A local path (or ``file://`` URL) passes through untouched:

>>> import tempfile
>>> tmp = Path(tempfile.mkdtemp())
>>> _ = (tmp / "a.csv").write_text("x\\n1\\n")
>>> local_path(str(tmp / "a.csv")) == tmp / "a.csv"
True
>>> publish(tmp / "a.csv", f"memory://remote-doc-{tmp.name}/in/a.csv")
>>> fetch(f"memory://remote-doc-{tmp.name}/in/a.csv", tmp / "copy.csv").read_text()
'x\\n1\\n'
>>> join_url("s3://bucket/runs/", "credit", "run-3")
's3://bucket/runs/credit/run-3'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rampup.errors import NotFoundError
from rampup.registry.objectstore import download_path, filesystem, is_url, upload_path

__all__ = ["exists", "fetch", "is_url", "join_url", "local_path", "publish", "remove"]


def local_path(location: str | Path) -> Path | None:
    """``location`` as a local path, or None when it is a remote URL."""
    if isinstance(location, Path):
        return location
    if location.startswith("file://"):
        return Path(location[len("file://"):])
    return None if is_url(location) else Path(location)


def join_url(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended, one ``/`` between each."""
    return "/".join((base.rstrip("/"), *(p.strip("/") for p in parts)))


def fetch(url: str, local: Path, options: dict[str, Any] | None = None,
          what: str = "file") -> Path:
    """Download ``url`` (a file, or every file below a prefix) to ``local``."""
    fs, path = filesystem(url, dict(options or {}), what)
    fs.invalidate_cache()
    if not fs.exists(path):
        raise NotFoundError(f"{what} {url} does not exist",
                            fix="check the URL and the store's credentials (AWS_* variables "
                                "for S3)")
    download_path(fs, path, Path(local))
    return Path(local)


def publish(local: Path, url: str, options: dict[str, Any] | None = None,
            what: str = "file") -> None:
    """Upload a local file, or a folder's files, to ``url`` (replacing what is there)."""
    fs, path = filesystem(url, dict(options or {}), what)
    upload_path(fs, Path(local), path)
    fs.invalidate_cache()


def exists(url: str, options: dict[str, Any] | None = None) -> bool:
    fs, path = filesystem(url, dict(options or {}))
    fs.invalidate_cache()
    return bool(fs.exists(path))


def remove(url: str, options: dict[str, Any] | None = None) -> None:
    """Delete the object (or every object below the prefix) at ``url``, if any."""
    fs, path = filesystem(url, dict(options or {}))
    fs.invalidate_cache()
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except FileNotFoundError:
        pass
