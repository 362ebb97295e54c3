"""Artifacts in an object store (any fsspec URL: ``s3://bucket/prefix``, ``gs://...``,
``memory://...``), with a local cache addressed by content hash.

Layout. A version's copy lives at ``<url>/<model>/<version>/<name>``, exactly where its
``artifacts:`` URI points below a folder store: records are the same for both backends,
and a folder store moves to a bucket by copying it (``aws s3 sync artifacts/ s3://b/p/``).
What makes the copy trustworthy is the content hash recorded at registration, not the
object's name: every download is hashed before it is used, and a copy whose hash differs
is refused (:class:`~rampup.errors.ModelError`), never served.

Cache. Downloads land in ``<cache_dir>/<hex>/<name>`` (``hex`` of the ``sha256:`` hash),
read-only, moved into place whole. A cached copy is hashed again on each load (unless the
caller asks not to verify); one that changed is dropped and fetched again. Registering
fills the cache too, so the registering process never downloads what it just uploaded.

Credentials and endpoint come from the filesystem's usual sources: for S3 the standard
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_ENDPOINT_URL`` environment variables
(MinIO, moto, Ceph: set ``AWS_ENDPOINT_URL``), or ``storage_options`` passed to fsspec
(setting ``artifact_storage_options``, JSON). fsspec and its backends (``s3fs``: the
``s3`` extra) are imported only here.

>>> import tempfile
>>> tmp = Path(tempfile.mkdtemp())
>>> _ = (tmp / "m.txt").write_text("hello")
>>> store = ObjectArtifactStore(f"memory://doc-{tmp.name}", tmp / "cache")
>>> uri, digest = store.put("demo", "v1", tmp / "m.txt")
>>> uri
'artifacts:demo/v1/m.txt'
>>> fresh = ObjectArtifactStore(f"memory://doc-{tmp.name}", tmp / "other-cache")
>>> fresh.pinned(digest).path(uri).read_text()
'hello'
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from rampup.errors import ConfigError, ConflictError, ModelError, NotFoundError, ValidationError
from rampup.registry.artifacts import (
    SCHEME,
    ArtifactStore,
    copy_read_only,
    hash_path,
    make_read_only,
    relative_parts,
    tree_files,
)

log = logging.getLogger("rampup.registry")


def filesystem(url: str, options: dict[str, Any],
               what: str = "artifacts_dir") -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path in it (``what`` names the setting
    or argument the URL came from, for the error)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec comes with the s3 extra
        raise ConfigError(f"{what} {url} needs fsspec",
                          fix="pip install 'rampup[s3]'") from None
    try:
        fs, root = url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{what} {url}: {exc}",
                          fix="install the filesystem's package (S3: pip install "
                              "'rampup[s3]') or check the URL") from None
    return fs, str(root).rstrip("/")


def upload_path(fs: Any, local: Path, remote: str) -> None:
    """Copy a local file, or a folder's files, to ``remote`` on ``fs``."""
    if local.is_file():
        fs.put_file(str(local), remote)
        return
    for rel, full in tree_files(local):
        fs.put_file(str(full), f"{remote}/{rel}")


def download_path(fs: Any, remote: str, local: Path) -> None:
    """Copy ``remote`` (a file, or every file below a prefix) on ``fs`` to ``local``."""
    if fs.isfile(remote):
        local.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(local))
        return
    for path in sorted(fs.find(remote)):
        rel = str(path)[len(remote):].lstrip("/")
        dest = local / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(dest))


class ObjectArtifactStore(ArtifactStore):
    """Immutable artifact copies under an fsspec URL, fetched into a hash-addressed cache."""

    def __init__(self, url: str, cache_dir: Path,
                 storage_options: dict[str, Any] | None = None) -> None:
        super().__init__(Path(cache_dir))
        self.url = url.rstrip("/")
        self.fs, self.prefix = filesystem(self.url, dict(storage_options or {}))

    @property
    def location(self) -> str:
        return self.url

    @property
    def verifies_on_fetch(self) -> bool:
        return True

    def _remote(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def cached(self, digest: str, name: str) -> Path:
        """Where the copy with content hash ``digest`` is cached."""
        return self.root / digest.split(":", 1)[-1] / name

    # -- writing ------------------------------------------------------------------------

    def put(self, model: str, version: str, source: Path) -> tuple[str, str]:
        source = Path(source)
        if not source.exists():
            raise NotFoundError(f"artifact {source} does not exist",
                                fix="check the path to the model file or folder")
        target = self._remote(model, version)
        self.fs.invalidate_cache()
        if self.fs.exists(target):
            raise ConflictError(f"artifact {self.url}/{model}/{version} already exists",
                                fix="versions are immutable: register under a new version name")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".put-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            copy_read_only(source, staging / source.name)
            digest = hash_path(staging / source.name)
            self._upload(staging / source.name, self._remote(model, version, source.name))
            self._settle(staging, digest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            self.remove(model, version)
            raise
        return f"{SCHEME}{model}/{version}/{source.name}", digest

    def _upload(self, local: Path, remote: str) -> None:
        upload_path(self.fs, local, remote)

    def remove(self, model: str, version: str) -> None:
        target = self._remote(model, version)
        self.fs.invalidate_cache()
        try:
            if self.fs.exists(target):
                self.fs.rm(target, recursive=True)
        except FileNotFoundError:
            pass

    # -- reading ------------------------------------------------------------------------

    def pinned(self, digest: str, label: str = "", *, verify: bool = True) -> ArtifactStore:
        return _Pinned(self, digest, label, verify)

    def path(self, uri: str) -> Path:
        raise ModelError(f"{uri} lives in an object store ({self.url}): its copy is fetched "
                         "by content hash", fix="load it through Registry.load")

    def fetch(self, uri: str, digest: str, label: str = "", *, verify: bool = True) -> Path:
        """The verified local copy of ``uri`` (content hash ``digest``), downloading it
        into the cache when it is not there or no longer matches."""
        parts = relative_parts(uri)
        what = label or uri
        local = self.cached(digest, parts[-1])
        if local.exists():
            if not verify or hash_path(local) == digest:
                return local
            log.warning("the cached copy of %s (%s) changed; fetching it again", what, local)
            shutil.rmtree(local.parent, ignore_errors=True)
        remote = self._remote(*parts)
        self.fs.invalidate_cache()
        if not self.fs.exists(remote):
            raise NotFoundError(f"the artifact of {what} is missing ({self.url}/"
                                f"{'/'.join(parts)})",
                                fix="restore the object, or set RAMPUP_ARTIFACTS_DIR to where "
                                    "the artifacts live")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".get-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            self._download(remote, staging / parts[-1])
            got = hash_path(staging / parts[-1])
            if got != digest:
                raise ModelError(
                    f"the artifact of {what} in {self.url} does not match the hash recorded "
                    f"when it was registered (expected {digest[:19]}…, found {got[:19]}…); "
                    "it was not loaded",
                    fix="the object was changed or damaged in the store: restore it, or "
                        "register the artifact again as a new version")
            make_read_only(staging / parts[-1])
            self._settle(staging, digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return local

    def _download(self, remote: str, local: Path) -> None:
        download_path(self.fs, remote, local)

    def _settle(self, staging: Path, digest: str) -> None:
        """Move a staged copy into the cache whole (a concurrent fill wins harmlessly)."""
        final = self.root / digest.split(":", 1)[-1]
        if final.exists():
            shutil.rmtree(staging, ignore_errors=True)
            return
        try:
            os.replace(staging, final)
        except OSError:  # another process filled it meanwhile
            if not final.exists():
                raise


class _Pinned(ArtifactStore):
    """The object store as one version's load sees it: ``path`` is its verified local copy."""

    def __init__(self, store: ObjectArtifactStore, digest: str, label: str,
                 verify: bool) -> None:
        super().__init__(store.root)
        self._store, self._digest, self._label, self._verify = store, digest, label, verify
        self._paths: dict[str, Path] = {}

    @property
    def location(self) -> str:
        return self._store.location

    @property
    def verifies_on_fetch(self) -> bool:
        return True

    def path(self, uri: str) -> Path:
        if uri not in self._paths:
            self._paths[uri] = self._store.fetch(uri, self._digest, self._label,
                                                 verify=self._verify)
        return self._paths[uri]


def is_url(location: str | Path) -> bool:
    """Whether ``location`` is a URL (``s3://...``) rather than a local path."""
    return isinstance(location, str) and "://" in location


def open_artifacts(location: str | Path, cache_dir: Path | None = None,
                   storage_options: dict[str, Any] | None = None) -> ArtifactStore:
    """The artifact store at ``location``: a folder (a path or ``file://`` URL) or any
    fsspec URL, cached in ``cache_dir`` (fsspec itself is imported only then)."""
    if not is_url(location):
        return ArtifactStore(Path(location))
    loc = str(location)
    if loc.startswith("file://"):
        return ArtifactStore(Path(loc[len("file://"):]))
    if cache_dir is None:
        raise ValidationError(f"artifacts in {loc} need a local cache folder",
                              fix="set artifact_cache_dir (RAMPUP_ARTIFACT_CACHE_DIR)")
    return ObjectArtifactStore(loc, cache_dir, storage_options or {})
