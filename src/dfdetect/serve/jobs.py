"""Video jobs persisted in SQLite, and the worker threads that run them.

A job is a row (queued -> running -> done | failed) pointing at its upload in the service's
storage. Rows are committed before the client hears 202, so a crash or restart loses no
accepted job: :meth:`JobStore.recover` re-queues what was queued or running when the service
stopped (a job interrupted :data:`MAX_ATTEMPTS` times is failed instead of retried forever).

Where several services share one store (``serve --engine ray``), a worker claims a job with a
lease that it renews while the job runs; a job whose lease ran out (its worker died) is claimed
again, and only the worker holding the lease may finish or fail it, so a result is written once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dfdetect.errors import Cancelled, DfdetectError, MediaError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    filename TEXT NOT NULL,
    media_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    heatmaps INTEGER NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error_code TEXT,
    error TEXT,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""


class QueueFull(DfdetectError):
    """The job queue holds its maximum number of waiting jobs."""


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: str
    status: str
    filename: str
    media_path: str
    size: int
    heatmaps: int
    created: float
    started: float | None
    finished: float | None
    attempts: int
    result: str | None
    error_code: str | None
    error: str | None
    owner: str | None = None  # the worker holding the job's lease (leased claims only)
    lease_until: float | None = None

    def to_dict(self) -> dict:
        """The job's public status (no storage path, no result body)."""
        out = {
            "id": self.id,
            "status": self.status,
            "filename": self.filename,
            "size": self.size,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
        }
        if self.error_code is not None:
            out["error"] = {"code": self.error_code, "message": self.error}
        return out


class JobStore:
    """Thread-safe SQLite job table (WAL, one connection behind a lock); ``remove_media``
    deletes a deleted or expired job's upload (default: the local file)."""

    def __init__(self, path: Path, remove_media: Callable[[str], None] | None = None) -> None:
        self._remove_media = remove_media or _unlink
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for column, kind in (("owner", "TEXT"), ("lease_until", "REAL")):
                if column not in columns:  # a database written before leases existed
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def changes(self) -> int:
        """How many rows were written since the store was opened."""
        with self._lock:
            return self._db.total_changes

    def backup(self, dest: Path) -> None:
        """Write a consistent copy of the database (WAL included) to ``dest``."""
        target = sqlite3.connect(dest)
        try:
            with self._lock:
                self._db.backup(target)
        finally:
            target.close()

    def _one(self, sql: str, args: tuple = ()) -> Job | None:
        row = self._db.execute(sql, args).fetchone()
        return Job(**dict(row)) if row is not None else None

    def submit(
        self, filename: str, media_path: Path, size: int, heatmaps: bool, max_queue: int
    ) -> Job:
        """Queue a job for ``media_path``; raises :class:`QueueFull` at ``max_queue`` waiting."""
        with self._lock:
            waiting = self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            if waiting.fetchone()[0] >= max_queue:
                raise QueueFull(f"the job queue is full ({max_queue} waiting)")
            job_id = uuid.uuid4().hex
            self._db.execute(
                "INSERT INTO jobs (id, status, filename, media_path, size, heatmaps, created)"
                " VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, filename, str(media_path), size, int(heatmaps), time.time()),
            )
            return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def get(self, job_id: str) -> Job | None:
        """The job, or None when unknown or deleted."""
        with self._lock:
            return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def queued_count(self) -> int:
        """How many jobs wait to run."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetchone()[
                0
            ]

    def pending_media(self) -> set[str]:
        """Upload paths of the jobs still to run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT media_path FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
        return {row[0] for row in rows}

    def claim(self, owner: str | None = None, lease_s: float | None = None) -> Job | None:
        """Mark the oldest queued job running and return it (None when the queue is empty).

        With ``lease_s``, the job is ``owner``'s for ``lease_s`` seconds (see :meth:`renew`),
        and jobs whose lease ran out are queued again first."""
        now = time.time()
        with self._lock:
            if lease_s is not None:
                self._requeue("lease_until < ?", (now,))
            return self._one(
                "UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1,"
                " owner = ?, lease_until = ?"
                " WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1)"
                " RETURNING *",
                (now, owner, None if lease_s is None else now + lease_s),
            )

    def renew(self, job_id: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease on a running job; False when the job is no longer its own
        (deleted, or claimed again after the lease ran out): the worker should stop it."""
        with self._lock:
            return (
                self._db.execute(
                    "UPDATE jobs SET lease_until = ? WHERE id = ? AND status = 'running'"
                    " AND owner IS ?",
                    (time.time() + lease_s, job_id, owner),
                ).rowcount
                == 1
            )

    def finish(self, job_id: str, result: dict, owner: str | None = None) -> bool:
        """Store a running job's result; False (nothing written) when the job was deleted
        meanwhile or is no longer ``owner``'s."""
        with self._lock:
            return (
                self._db.execute(
                    "UPDATE jobs SET status = 'done', finished = ?, result = ?"
                    " WHERE id = ? AND status = 'running' AND owner IS ?",
                    (time.time(), json.dumps(result, allow_nan=False), job_id, owner),
                ).rowcount
                == 1
            )

    def fail(self, job_id: str, code: str, message: str, owner: str | None = None) -> bool:
        """Record why a job failed (False, like :meth:`finish`, when not ``owner``'s)."""
        with self._lock:
            return (
                self._db.execute(
                    "UPDATE jobs SET status = 'failed', finished = ?, error_code = ?, error = ?"
                    " WHERE id = ? AND status IN ('queued', 'running') AND owner IS ?",
                    (time.time(), code, message, job_id, owner),
                ).rowcount
                == 1
            )

    def delete(self, job_id: str) -> Job | None:
        """Remove the job's row and its upload; returns the removed job (None when unknown)."""
        with self._lock:
            job = self._one("DELETE FROM jobs WHERE id = ? RETURNING *", (job_id,))
        if job is not None:
            self._remove_media(job.media_path)
        return job

    def list_jobs(
        self, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Job], int]:
        """Jobs newest first (only ``status`` ones when given), ``limit`` from ``offset``, and
        how many there are in all."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM jobs {where} ORDER BY created DESC, id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [Job(**dict(row)) for row in rows], total

    def expire(self, ttl_s: float) -> int:
        """Delete jobs finished (done or failed) more than ``ttl_s`` seconds ago; returns how
        many went."""
        with self._lock:
            rows = self._db.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished < ?"
                " RETURNING media_path",
                (time.time() - ttl_s,),
            ).fetchall()
        for row in rows:
            self._remove_media(row[0])
        return len(rows)

    def recover(self) -> tuple[int, int]:
        """After a restart: re-queue interrupted jobs; fail those interrupted too often.

        Returns (re-queued, failed) counts.
        """
        with self._lock:
            return self._requeue("1", ())

    def _requeue(self, where: str, args: tuple) -> tuple[int, int]:
        """Queue again the running jobs matching ``where``; fail those at MAX_ATTEMPTS."""
        message = f"the service stopped during {MAX_ATTEMPTS} attempts"
        failed = self._db.execute(
            "UPDATE jobs SET status = 'failed', finished = ?, error_code = 'interrupted',"
            f" error = ? WHERE status = 'running' AND attempts >= ? AND {where}",
            (time.time(), message, MAX_ATTEMPTS, *args),
        ).rowcount
        requeued = self._db.execute(
            "UPDATE jobs SET status = 'queued', started = NULL, owner = NULL, lease_until = NULL"
            f" WHERE status = 'running' AND {where}",
            args,
        ).rowcount
        return requeued, failed


def _unlink(media: str) -> None:
    Path(media).unlink(missing_ok=True)


class JobWorkers:
    """Threads that claim queued jobs and run ``analyze(job, cancel) -> result dict`` on them;
    ``analyze`` raises :class:`Cancelled` soon after the ``cancel`` event is set.

    With ``lease_s`` (a store shared with other services), jobs are claimed under a lease that
    a heartbeat renews every third of it; a job that is no longer this worker's (deleted through
    another service, or claimed again) is cancelled at the next heartbeat. The store records
    the lease's owner as ``<holder>:<random>``."""

    def __init__(
        self,
        store: JobStore,
        analyze: Callable[[Job, threading.Event], dict],
        n_workers: int,
        poll_s: float = 1.0,
        lease_s: float | None = None,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.analyze = analyze
        self.poll_s = poll_s
        self.lease_s = lease_s
        # "<holder>:<random>" (holder: host:pid unless named), telling who holds a job
        holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.owner = f"{holder}:{uuid.uuid4().hex[:8]}" if lease_s is not None else None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running: dict[str, threading.Event] = {}  # job id -> its cancel event
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, name=f"dfdetect-job-{i}", daemon=True)
            for i in range(n_workers)
        ]
        if lease_s is not None:
            self._threads.append(
                threading.Thread(target=self._heartbeat, name="dfdetect-lease", daemon=True)
            )

    def start(self) -> None:
        """Start the worker threads."""
        for thread in self._threads:
            thread.start()

    def notify(self) -> None:
        """Wake idle workers (a job was just queued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask workers to stop after their current job and wait up to ``timeout_s``; a job
        still running stays 'running' in the database and is re-queued by the next start.
        Returns whether every worker has stopped."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim(self.owner, self.lease_s)
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self._run(job)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                running = list(self._running.items())
            for job_id, cancel in running:
                try:
                    if not self.store.renew(job_id, self.owner, self.lease_s):
                        cancel.set()
                except Exception:  # the store is restarting: the next beat tries again
                    log.warning("could not renew the lease of job %s", job_id, exc_info=True)

    def cancel(self, job_id: str) -> bool:
        """Stop the running job ``job_id`` at its next frame; False when it is not running."""
        with self._lock:
            event = self._running.get(job_id)
        if event is not None:
            event.set()
        return event is not None

    def _run(self, job: Job) -> None:
        cancel = threading.Event()
        with self._lock:
            self._running[job.id] = cancel
        if self.store.get(job.id) is None:  # deleted between its claim and now
            cancel.set()
        try:
            if cancel.is_set():
                raise Cancelled(job.id)
            result = self.analyze(job, cancel)
        except Cancelled:
            log.info("job %s cancelled (deleted while running)", job.id)
        except MediaError as err:
            if cancel.is_set():  # its upload went with the deletion before a frame was read
                log.info("job %s cancelled (deleted while running)", job.id)
            else:
                message = f"{job.filename}: {err.reason} {err.detail}".strip()
                self.store.fail(job.id, err.reason, message, self.owner)
        except Exception as err:  # a job's failure must not stop the worker
            if self._stop.is_set():  # the model went away at shutdown: re-queued at next start
                return
            log.exception("job %s failed", job.id)
            message = f"{job.filename}: {type(err).__name__}: {err}"
            self.store.fail(job.id, "internal", message, self.owner)
        else:
            if not self.store.finish(job.id, result, self.owner):
                log.info("job %s: result not stored (deleted, or finished elsewhere)", job.id)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
        current = self.store.get(job.id)  # a job claimed again elsewhere keeps its upload
        if current is None or current.status in ("done", "failed"):
            Path(job.media_path).unlink(missing_ok=True)
