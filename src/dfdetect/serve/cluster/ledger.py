"""The job ledger: one named, detached Ray actor that is the only writer of job state.

It keeps the :class:`~dfdetect.serve.jobs.JobStore` SQLite file in the service's data folder,
a path every node reads and writes (a shared filesystem), or, when the data folder is a URL, on
its node's disk, restored from the URL when it starts and uploaded there after every change
(:mod:`~dfdetect.serve.cluster.store`): Ray restarts the actor (``max_restarts=-1``) on any
node after its node is lost, and it reopens the same file, so no accepted job is lost.
Replicas call it through :class:`LedgerStore`, which has the methods of :class:`JobStore` that
the routes and job workers use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ray

from dfdetect.serve.cluster.options import NAMESPACE
from dfdetect.serve.cluster.store import RemoteData
from dfdetect.serve.jobs import JobStore, QueueFull

CALL_TIMEOUT_S = 60.0  # a ledger restarting on another node answers within this
STORE_METHODS = frozenset(
    {
        "submit", "get", "queued_count", "claim", "renew", "finish", "fail",
        "delete", "list_jobs", "expire",
    }
)  # fmt: skip


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class JobLedger:
    """The job store, behind one actor: calls run one at a time, in order. With ``url``, the
    store at ``database`` (local) is restored from ``url`` and saved there after each change,
    and the uploads of jobs that end or go are removed from ``url``."""

    def __init__(self, database: str, url: str | None = None) -> None:
        self.database = Path(database)
        self.data = RemoteData(url) if url is not None else None
        if self.data is None:
            self.store = JobStore(self.database)
            return
        for stale in (self.database, *(self.database.with_name(self.database.name + x)
                                       for x in ("-wal", "-shm"))):  # fmt: skip
            stale.unlink(missing_ok=True)
        self.data.restore(self.database)
        self.store = JobStore(self.database, remove_media=self.data.remove)

    def call(self, method: str, *args):
        """``JobStore.<method>(*args)``, for the methods in :data:`STORE_METHODS`."""
        if method not in STORE_METHODS:
            raise AttributeError(f"the job ledger has no method {method!r}")
        if self.data is None:
            return getattr(self.store, method)(*args)
        before = self.store.changes()
        job = self.store.get(args[0]) if method in ("finish", "fail") else None
        out = getattr(self.store, method)(*args)
        if job is not None and out:  # the job ended: its upload is no longer needed
            self.data.remove(job.media_path)
        if self.store.changes() != before:
            self._persist()
        return out

    def _persist(self) -> None:
        snapshot = self.database.with_name(self.database.name + ".snapshot")
        try:
            self.store.backup(snapshot)
            self.data.persist(snapshot)
        finally:
            snapshot.unlink(missing_ok=True)


def ledger_name(database: Path, url: str | None = None) -> str:
    """The actor's name for the store at ``url``, else ``database`` (one ledger per store)."""
    digest = hashlib.sha256((url or str(database.resolve())).encode()).hexdigest()[:16]
    return f"dfdetect-jobs-{digest}"


def start_ledger(database: Path, url: str | None = None) -> str:
    """Start the ledger of ``database`` (kept at ``url`` when given) unless it runs already;
    returns its name."""
    name = ledger_name(database, url)
    JobLedger.options(
        name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(str(database.resolve()), url)
    return name


class LedgerStore:
    """A :class:`JobStore` stand-in that forwards each call to the named ledger actor; with
    ``url``, a submitted job's upload is copied there first."""

    def __init__(self, name: str, url: str | None = None) -> None:
        self._actor = ray.get_actor(name, namespace=NAMESPACE)
        self._data = RemoteData(url) if url is not None else None

    def submit(self, filename: str, media_path: Path, size: int, heatmaps: bool, max_queue: int):
        """``JobStore.submit``, the upload first copied to the URL (when there is one)."""
        if self._data is None:
            return self._call("submit", filename, media_path, size, heatmaps, max_queue)
        media = self._data.stage(media_path)
        try:
            return self._call("submit", filename, media, size, heatmaps, max_queue)
        except QueueFull:
            self._data.remove(media)
            raise

    def _call(self, method: str, *args):
        return ray.get(self._actor.call.remote(method, *args), timeout=CALL_TIMEOUT_S)

    def __getattr__(self, method: str):
        if method not in STORE_METHODS:
            raise AttributeError(method)

        return lambda *args: self._call(method, *args)

    def close(self) -> None:
        """Nothing to close here: the ledger outlives the replicas."""
