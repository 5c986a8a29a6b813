"""One running service: its job store, metrics, background model load and job workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from dfdetect.errors import MediaError
from dfdetect.serve.engine import Engine
from dfdetect.serve.jobs import Job, JobStore, JobWorkers
from dfdetect.serve.metrics import ServiceMetrics
from dfdetect.serve.problems import Problem
from dfdetect.serve.settings import ServeSettings

log = logging.getLogger("dfdetect.serve")

LoadErrorHook = Callable[[BaseException], None]


class Service:
    """State shared by the routes; started and stopped by the app's lifespan."""

    def __init__(self, settings: ServeSettings, on_load_error: LoadErrorHook | None = None) -> None:
        self.settings = settings
        self.on_load_error = on_load_error
        self.store: JobStore | None = None
        self.engine: Engine | None = None
        self.load_error: str | None = None
        self.workers: JobWorkers | None = None
        self.metrics = ServiceMetrics(queue_depth=self._queue_depth)
        self._image_slots = threading.BoundedSemaphore(settings.max_inflight_images)
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
        """Open the job store, re-queue interrupted jobs, and load the model in the background."""
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(self.settings.database)
        requeued, failed = self.store.recover()
        if requeued or failed:
            log.info(
                "re-queued %d interrupted job(s); failed %d retried too often", requeued, failed
            )
        self._remove_orphan_uploads()
        threading.Thread(target=self._load, name="dfdetect-load", daemon=True).start()

    def stop(self) -> None:
        """Stop workers (a running job stays 'running' and is re-queued on the next start)."""
        self._stopping.set()
        stopped = self.workers.stop() if self.workers is not None else True
        if self.engine is not None:
            self.engine.close()
        if self.store is not None and stopped:  # a worker still busy keeps its connection
            self.store.close()

    def _load(self) -> None:
        try:
            engine = Engine.load(self.settings, on_batch=self.metrics.record_batch)
        except Exception as err:  # reported by /readyz and the hook, not swallowed
            self.load_error = f"{type(err).__name__}: {err}"
            log.error("model %s failed to load: %s", self.settings.model, self.load_error)
            if self.on_load_error is not None:
                self.on_load_error(err)
            return
        if self._stopping.is_set():  # shut down while loading
            engine.close()
            return
        self.engine = engine
        log.info("model %s loaded; ready", self.settings.model)
        if self.settings.job_workers > 0:
            self.workers = JobWorkers(self.store, self._analyze_job, self.settings.job_workers)
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
        if self.engine is not None:
            return {"status": "ready", **out, "threshold": self.engine.threshold}
        if self.load_error is not None:
            return {"status": "failed", **out, "error": self.load_error}
        return {"status": "loading", **out}

    def require_engine(self) -> Engine:
        """The loaded engine, or a 503 saying the model is loading or failed."""
        if self.engine is None:
            state = self.readiness()
            detail = state.get("error", "the model is still loading, retry shortly")
            raise Problem(503, f"model_{state['status']}", detail, {"Retry-After": "5"})
        return self.engine

    def image_slot(self) -> threading.BoundedSemaphore:
        """Take one of the ``max_inflight_images`` slots (429 when all are taken); the caller
        releases it when its analysis ends."""
        if not self._image_slots.acquire(blocking=False):
            raise Problem(
                429, "busy", "too many images in flight, retry shortly", {"Retry-After": "1"}
            )
        return self._image_slots

    def job_submitted(self) -> None:
        """Wake an idle worker for the job just queued."""
        if self.workers is not None:
            self.workers.notify()

    def analyze(self, engine: Engine, path: Path, filename: str, heatmaps: bool) -> dict:
        """Analyze one stored upload, counting the outcome in the metrics."""
        try:
            result = engine.analyze(path, filename, heatmaps)
        except MediaError:
            self.metrics.files.labels("error").inc()
            raise
        self.metrics.files.labels(result["status"]).inc()
        return result

    def _analyze_job(self, job: Job) -> dict:
        return self.analyze(self.engine, Path(job.media_path), job.filename, bool(job.heatmaps))
