"""One running service: its job store, metrics, background model load and job workers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI

from dfdetect.errors import Cancelled, MediaError
from dfdetect.serve.analyzer import Analyzer
from dfdetect.serve.jobs import Job, JobStore, JobWorkers
from dfdetect.serve.metrics import ServiceMetrics
from dfdetect.serve.problems import Problem
from dfdetect.serve.settings import ServeSettings

log = logging.getLogger("dfdetect.serve")

LoadErrorHook = Callable[[BaseException], None]


@dataclass(frozen=True)
class SharedState:
    """What one replica of a replicated service (``serve --engine ray``) shares with the
    others: ``open_store()`` returns the job store they all use (the methods of
    :class:`JobStore`), ``scorer(predictor)`` what the pipelines call ``predict`` on (batching
    faces across replicas), and its workers hold jobs under leases of ``lease_s`` in the name
    of ``holder`` (the replica); ``media(path)`` gives a job's upload as a local file while
    its job runs (the default: the path itself)."""

    open_store: Callable[[], Any]
    scorer: Callable[[Any], Any]
    lease_s: float
    holder: str
    media: Callable[[str], AbstractContextManager[Path]] | None = None


class Service:
    """State shared by the routes; started and stopped by the app's lifespan."""

    def __init__(
        self,
        settings: ServeSettings,
        on_load_error: LoadErrorHook | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.settings = settings
        self.on_load_error = on_load_error
        self.shared = shared  # None: one process owns its SQLite store and its model
        self.store: JobStore | None = None
        self.analyzer: Analyzer | None = None
        self.load_error: str | None = None
        self.workers: JobWorkers | None = None
        self.metrics = ServiceMetrics(queue_depth=self._queue_depth)
        self._image_slots = asyncio.Semaphore(settings.max_inflight_images)
        self._waiting_images = 0
        self._stopping = threading.Event()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """FastAPI lifespan: open the store and start loading the model; stop both after."""
        self.start()
        try:
            yield
        finally:
            self.stop()

    def start(self) -> None:
        """Open the job store, re-queue interrupted jobs, and load the model in the background
        (a replica of a shared service loads it before it starts, and leaves other replicas'
        jobs and uploads alone: their leases say when a job is to run again)."""
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        if self.shared is not None:
            self.store = self.shared.open_store()
            self.expire_jobs()
        else:
            self.store = JobStore(self.settings.database)
            self.expire_jobs()
            requeued, failed = self.store.recover()
            if requeued or failed:
                log.info(
                    "re-queued %d interrupted job(s); failed %d retried too often", requeued, failed
                )
            self._remove_orphan_uploads()
        if self.shared is None:
            threading.Thread(target=self._load, name="dfdetect-load", daemon=True).start()
            return
        self._load()  # a replica takes traffic only once its model is loaded
        if self.load_error is not None:
            raise RuntimeError(f"model {self.settings.model}: {self.load_error}")

    def stop(self) -> None:
        """Stop workers (a running job stays 'running' and is re-queued on the next start)."""
        self._stopping.set()
        stopped = self.workers.stop() if self.workers is not None else True
        if self.analyzer is not None:
            self.analyzer.close()
        if self.store is not None and stopped:  # a worker still busy keeps its connection
            self.store.close()

    def _load(self) -> None:
        try:
            scorer = self.shared.scorer if self.shared is not None else None
            analyzer = Analyzer.load(
                self.settings, on_batch=self.metrics.record_batch, scorer=scorer
            )
        except Exception as err:  # reported by /readyz and the hook, not swallowed
            self.load_error = f"{type(err).__name__}: {err}"
            log.error("model %s failed to load: %s", self.settings.model, self.load_error)
            if self.on_load_error is not None:
                self.on_load_error(err)
            return
        if self._stopping.is_set():  # shut down while loading
            analyzer.close()
            return
        self.analyzer = analyzer
        log.info("model %s loaded; ready", self.settings.model)
        if self.settings.job_workers > 0:
            shared = self.shared
            self.workers = JobWorkers(
                self.store,
                self._analyze_job,
                self.settings.job_workers,
                lease_s=shared.lease_s if shared is not None else None,
                holder=shared.holder if shared is not None else None,
            )
            self.workers.start()
        else:
            log.warning("--job-workers 0: jobs are accepted and stored but not run")

    def _remove_orphan_uploads(self) -> None:
        """Delete uploads no waiting job points at (left by a crash during an image request)."""
        keep = self.store.pending_media()
        for path in self.settings.uploads_dir.iterdir():
            if path.is_file() and str(path) not in keep:
                path.unlink(missing_ok=True)

    def _queue_depth(self) -> float:
        return float(self.store.queued_count()) if self.store is not None else 0.0

    def readiness(self) -> dict:
        """``{"status": "ready" | "loading" | "failed", "model": ..., ["error": ...]}``."""
        out = {"model": self.settings.model}
        if self.analyzer is not None:
            return {"status": "ready", **out, "threshold": self.analyzer.threshold}
        if self.load_error is not None:
            return {"status": "failed", **out, "error": self.load_error}
        return {"status": "loading", **out}

    def require_analyzer(self) -> Analyzer:
        """The loaded analyzer, or a 503 saying the model is loading or failed."""
        if self.analyzer is None:
            state = self.readiness()
            detail = state.get("error", "the model is still loading, retry shortly")
            raise Problem(503, f"model_{state['status']}", detail, {"Retry-After": "5"})
        return self.analyzer

    async def image_slot(self) -> ImageSlot:
        """Take one of the ``max_inflight_images`` slots, waiting behind at most
        ``max_waiting_images`` other requests for up to ``queue_wait_s`` (429 past either);
        the caller releases it (from any thread) when its analysis ends."""
        settings = self.settings
        busy = Problem(
            429, "busy", "too many images in flight, retry shortly", {"Retry-After": "1"}
        )
        if self._image_slots.locked() and self._waiting_images >= settings.max_waiting_images:
            raise busy
        self._waiting_images += 1
        try:
            with anyio.fail_after(settings.queue_wait_s):
                await self._image_slots.acquire()
        except TimeoutError:
            raise busy from None
        finally:
            self._waiting_images -= 1
        return ImageSlot(self._image_slots, asyncio.get_running_loop())

    def delete_job(self, job_id: str) -> Job | None:
        """Delete a job; a running one is stopped at its next frame. None when unknown."""
        job = self.store.delete(job_id)
        if job is not None and job.status == "running" and self.workers is not None:
            self.workers.cancel(job_id)
        return job

    def expire_jobs(self) -> None:
        """Forget jobs finished more than ``job_ttl_s`` ago."""
        if self.settings.job_ttl_s is not None:
            self.store.expire(self.settings.job_ttl_s)

    def job_submitted(self) -> None:
        """Wake an idle worker for the job just queued."""
        if self.workers is not None:
            self.workers.notify()

    def analyze(
        self,
        analyzer: Analyzer,
        path: Path,
        filename: str,
        heatmaps: bool,
        cancel: threading.Event | None = None,
    ) -> dict:
        """Analyze one stored upload, counting the outcome in the metrics."""
        try:
            result = analyzer.analyze(path, filename, heatmaps, cancel)
        except Cancelled:
            self.metrics.files.labels("cancelled").inc()
            raise
        except MediaError:
            self.metrics.files.labels("cancelled" if cancel and cancel.is_set() else "error").inc()
            raise
        self.metrics.files.labels(result["status"]).inc()
        return result

    def _analyze_job(self, job: Job, cancel: threading.Event) -> dict:
        media = (self.shared.media if self.shared is not None else None) or local_media
        with media(job.media_path) as path:
            return self.analyze(self.analyzer, path, job.filename, bool(job.heatmaps), cancel)


@contextmanager
def local_media(media: str) -> Iterator[Path]:
    """A job's upload that is a local file already."""
    yield Path(media)


class ImageSlot:
    """One taken image slot; :meth:`release` frees it once, from any thread."""

    def __init__(self, slots: asyncio.Semaphore, loop: asyncio.AbstractEventLoop) -> None:
        self._slots = slots
        self._loop = loop
        self._released = threading.Event()

    def release(self) -> None:
        """Give the slot back (a second call does nothing)."""
        if not self._released.is_set():
            self._released.set()
            self._loop.call_soon_threadsafe(self._slots.release)
