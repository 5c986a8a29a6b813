"""The job ledger: one named, detached Ray actor that is the only writer of job state.

It keeps the :class:`~dfdetect.serve.jobs.JobStore` SQLite file in the service's data folder,
which must be a path every node reads and writes (a shared filesystem): Ray restarts the actor
(``max_restarts=-1``) on any node after its node is lost, and it reopens the same file, so no
accepted job is lost. Replicas call it through :class:`LedgerStore`, which has the methods of
:class:`JobStore` that the routes and job workers use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ray

from dfdetect.serve.cluster.options import NAMESPACE
from dfdetect.serve.jobs import JobStore

CALL_TIMEOUT_S = 60.0  # a ledger restarting on another node answers within this
STORE_METHODS = frozenset(
    {
        "submit", "get", "queued_count", "claim", "renew", "finish", "fail",
        "delete", "list_jobs", "expire",
    }
)  # fmt: skip


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class JobLedger:
    """The job store, behind one actor: calls run one at a time, in order."""

    def __init__(self, database: str) -> None:
        self.store = JobStore(Path(database))

    def call(self, method: str, *args):
        """``JobStore.<method>(*args)``, for the methods in :data:`STORE_METHODS`."""
        if method not in STORE_METHODS:
            raise AttributeError(f"the job ledger has no method {method!r}")
        return getattr(self.store, method)(*args)


def ledger_name(database: Path) -> str:
    """The actor's name for the store at ``database`` (one ledger per store)."""
    digest = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:16]
    return f"dfdetect-jobs-{digest}"


def start_ledger(database: Path) -> str:
    """Start the ledger of ``database`` unless it runs already; returns its name."""
    name = ledger_name(database)
    JobLedger.options(
        name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(str(database.resolve()))
    return name


class LedgerStore:
    """A :class:`JobStore` stand-in that forwards each call to the named ledger actor."""

    def __init__(self, name: str) -> None:
        self._actor = ray.get_actor(name, namespace=NAMESPACE)

    def __getattr__(self, method: str):
        if method not in STORE_METHODS:
            raise AttributeError(method)

        def call(*args):
            return ray.get(self._actor.call.remote(method, *args), timeout=CALL_TIMEOUT_S)

        return call

    def close(self) -> None:
        """Nothing to close here: the ledger outlives the replicas."""
