"""The artifact store: immutable copies of registered model files, addressed by URI.

Registering copies the artifact (a file or a whole folder) to
``<root>/<model>/<version>/<name>`` and returns a URI relative to the store root
(``artifacts:<model>/<version>/<name>``), so a project folder can move without breaking
its versions. What gets loaded later is always this copy, never the original path.
Copied files are made read-only as a guard against accidental edits.

The root may also be an fsspec URL (``s3://bucket/prefix``, ``gs://...``): then
:func:`rampup.registry.objectstore.open_artifacts` returns the object-store backend
(same interface, same URIs, a local cache by content hash, verified on every fetch).
:meth:`ArtifactStore.pinned` gives the view a load goes through: for a folder it is the
folder itself; for an object store it downloads and verifies the version's copy first.

Content hashes are ``sha256:<hex>``: of the bytes for a file; for a folder, of the sorted
relative paths and each file's digest (``__pycache__`` and ``.pyc`` files are skipped,
because importing code from a folder may create them).

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> (root / "m.txt").write_text("hello")
5
>>> store = ArtifactStore(root / "store")
>>> uri, digest = store.put("demo", "v1", root / "m.txt")
>>> uri
'artifacts:demo/v1/m.txt'
>>> digest == hash_path(root / "m.txt")
True
>>> store.path(uri).read_text()
'hello'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from pathlib import Path, PurePosixPath

from rampup.errors import ConflictError, NotFoundError, ValidationError

SCHEME = "artifacts:"
_CHUNK = 1 << 20
_SKIP_DIRS = {"__pycache__", ".git"}


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def _tree_files(root: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            if name.endswith(".pyc"):
                continue
            full = Path(dirpath) / name
            out.append((full.relative_to(root).as_posix(), full))
    return sorted(out)


def hash_path(path: Path) -> str:
    """Content hash of a file or folder, as ``sha256:<hex>``.

    Folder hashes cover relative paths and contents, so renaming a file changes it.
    """
    path = Path(path)
    if path.is_file():
        return "sha256:" + _file_digest(path).hex()
    if path.is_dir():
        h = hashlib.sha256()
        for rel, full in _tree_files(path):
            h.update(rel.encode("utf-8"))
            h.update(b"\0")
            h.update(_file_digest(full))
        return "sha256:" + h.hexdigest()
    raise NotFoundError(f"artifact {path} does not exist",
                        fix="check the path (relative paths are taken from the current folder)")


def make_read_only(path: Path) -> None:
    ro = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if path.is_file():
        path.chmod(path.stat().st_mode & ro)
        return
    for _, full in _tree_files(path):
        full.chmod(full.stat().st_mode & ro)


def copy_read_only(source: Path, dest: Path) -> None:
    """Copy a file or folder (without caches) to ``dest`` and make the copy read-only."""
    if source.is_dir():
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*_SKIP_DIRS, "*.pyc"))
    else:
        shutil.copy2(source, dest)
    make_read_only(dest)


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, path)`` of every file a folder's hash covers, sorted."""
    return _tree_files(root)


class ArtifactStore:
    """A folder of immutable artifact copies, one sub-folder per model and version."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    hash_path = staticmethod(hash_path)

    def version_dir(self, model: str, version: str) -> Path:
        return self.root / model / version

    def put(self, model: str, version: str, source: Path) -> tuple[str, str]:
        """Copy ``source`` (file or folder) for ``model@version``; return ``(uri, hash)``.

        The hash is computed on the copy, so it describes exactly what will be loaded.
        """
        source = Path(source)
        if not source.exists():
            raise NotFoundError(f"artifact {source} does not exist",
                                fix="check the path to the model file or folder")
        if source.is_dir() and self.root.resolve().is_relative_to(source.resolve()):
            raise ValidationError(f"the artifact folder {source} contains the artifact store",
                                  fix="register the model's own folder, not a parent of "
                                      f"{self.root}")
        target = self.version_dir(model, version)
        if target.exists():
            raise ConflictError(f"artifact folder {target} already exists",
                                fix="versions are immutable: register under a new version name")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{version}.tmp-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            copy_read_only(source, staging / source.name)
            os.replace(staging, target)  # atomic: the folder appears complete or not at all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        stored = target / source.name
        return f"{SCHEME}{model}/{version}/{source.name}", hash_path(stored)

    @property
    def location(self) -> str:
        """Where the copies live, as configured (a folder here; a URL for object stores)."""
        return str(self.root)

    def pinned(self, digest: str, label: str = "", *, verify: bool = True) -> ArtifactStore:
        """The store as a load of the version with content hash ``digest`` sees it. A folder
        needs nothing fetched (the registry checks the hash itself), so it is ``self``."""
        return self

    @property
    def verifies_on_fetch(self) -> bool:
        """Whether :meth:`pinned` views already checked the hash of what they return."""
        return False

    def path(self, uri: str) -> Path:
        """The local path of an ``artifacts:`` URI (rejects URIs escaping the store)."""
        return self.root.joinpath(*relative_parts(uri))

    def remove(self, model: str, version: str) -> None:
        """Delete the copy of ``model@version`` (used to undo a failed registration)."""
        shutil.rmtree(self.version_dir(model, version), ignore_errors=True)


def relative_parts(uri: str) -> tuple[str, ...]:
    """The path parts of an ``artifacts:`` URI below the store root (rejects escapes)."""
    if not uri.startswith(SCHEME):
        raise ValidationError(f"{uri!r} is not an artifact-store URI",
                              fix=f"artifact URIs start with {SCHEME!r}")
    rel = PurePosixPath(uri[len(SCHEME):])
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValidationError(f"artifact URI {uri!r} points outside the artifact store",
                              fix="use the URI recorded when the version was registered")
    return rel.parts
