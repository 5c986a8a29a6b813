"""A ``--data-dir`` URL (fsspec: ``s3://bucket/prefix``, ``gs://``, ``file://``) as the store
of ``serve --engine ray``: the ledger keeps its SQLite file on local disk, restores it from
``URL/jobs.sqlite3`` when it starts and uploads it back after every change; uploads are staged
locally, copied to ``URL/uploads/<name>`` before their job is queued, and fetched by the
replica that runs the job."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import fsspec
from fsspec.registry import known_implementations

DATABASE = "jobs.sqlite3"


def missing_package(url: str) -> str | None:
    """Why the filesystem of ``url`` cannot be opened (its package is not installed), or None."""
    protocol = url.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError:
        return known_implementations.get(protocol, {}).get("err", f"{protocol}: not installed")
    except ValueError:
        return f"{protocol}://: no fsspec filesystem knows this protocol"
    return None


def staging_dir(url: str) -> Path:
    """The local folder (on each node) where uploads wait before they go to ``url``."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dfdetect-serve-{digest}"


class RemoteData:
    """The service's files under ``url``: the job database and the uploads."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def _key(self, name: str) -> str:
        return f"{self.root}/{name}"

    def restore(self, database: Path) -> bool:
        """Copy ``URL/jobs.sqlite3`` to ``database`` (replacing it); False when absent."""
        if not self.fs.exists(self._key(DATABASE)):
            return False
        database.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get(self._key(DATABASE), str(database))
        return True

    def persist(self, snapshot: Path) -> None:
        """Upload a consistent copy of the database as ``URL/jobs.sqlite3`` (one PUT)."""
        self.fs.makedirs(self.root, exist_ok=True)
        self.fs.put(str(snapshot), self._key(DATABASE))

    def stage(self, upload: Path) -> str:
        """Copy a local upload to ``URL/uploads/<its name>`` and remove it; returns its URL."""
        self.fs.makedirs(self._key("uploads"), exist_ok=True)
        key = self._key(f"uploads/{upload.name}")
        self.fs.put(str(upload), key)
        upload.unlink(missing_ok=True)
        return f"{self.url}/uploads/{upload.name}"

    @contextmanager
    def fetch(self, media: str, folder: Path) -> Iterator[Path]:
        """A local copy of the upload at ``media`` in ``folder``, removed afterwards."""
        local = folder / f"fetched-{uuid.uuid4().hex}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self.fs.get(self._path(media), str(local))
            yield local
        finally:
            local.unlink(missing_ok=True)

    def remove(self, media: str) -> None:
        """Delete the upload at ``media`` (nothing when it is gone already)."""
        with suppress(FileNotFoundError):
            self.fs.rm_file(self._path(media))

    def _path(self, media: str) -> str:
        if not media.startswith(self.url + "/uploads/"):
            raise ValueError(f"{media}: not an upload of {self.url}")
        return self._key(media[len(self.url) + 1 :])
