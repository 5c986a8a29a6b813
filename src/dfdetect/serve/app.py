"""The FastAPI application: the HTTP API, health and metrics, and the web page."""

from __future__ import annotations

import re
from importlib import resources
from typing import Annotated, Literal
from urllib.parse import urlencode

import anyio
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dfdetect.errors import MediaError
from dfdetect.serve.auth import api_key_dependency
from dfdetect.serve.docs import add_offline_docs
from dfdetect.serve.jobs import Job, QueueFull
from dfdetect.serve.metrics import MetricsMiddleware
from dfdetect.serve.problems import (
    Problem,
    client_closed_handler,
    http_error_handler,
    invalid_request_handler,
    problem_body,
    problem_handler,
)
from dfdetect.serve.service import LoadErrorHook, Service
from dfdetect.serve.settings import ServeSettings
from dfdetect.serve.uploads import UPLOAD_OPENAPI, receive_upload
from dfdetect.version import __version__

STATIC = resources.files("dfdetect.serve") / "static"
_JOB_ID = re.compile(r"[0-9a-f]{32}")
JobStatus = Literal["queued", "running", "done", "failed"]
MAX_PAGE = 500
# The page loads only its own files; images and media come from the user's file or the API.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'"
)


def _error(status: int, description: str) -> dict:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"example": problem_body("code", "message")}},
        }
    }


UPLOAD_ERRORS = {
    **_error(400, "malformed or empty upload"),
    **_error(401, "missing or wrong API key"),
    **_error(408, "the upload took too long"),
    **_error(413, "upload over the size limit"),
    **_error(415, "content is not a supported image or video"),
    **_error(429, "too many requests in flight or the job queue is full"),
    **_error(503, "the model is still loading or failed to load"),
}


def create_app(settings: ServeSettings, on_load_error: LoadErrorHook | None = None) -> FastAPI:
    """A ready-to-serve app for ``settings``; the model loads in the background at startup
    (``/readyz`` answers 503 until it is loaded; ``on_load_error`` hears a load failure)."""
    service = Service(settings, on_load_error)
    app = FastAPI(
        title="dfdetect",
        version=__version__,
        description="Face-deepfake detection: images answered at once, videos as jobs.",
        lifespan=service.lifespan,
        docs_url=None,  # the defaults load their assets from a CDN: served locally instead
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    app.add_exception_handler(Problem, problem_handler)
    app.add_exception_handler(RequestValidationError, invalid_request_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(ClientDisconnect, client_closed_handler)
    add_offline_docs(app)
    auth = [Depends(api_key_dependency(settings.api_key))]

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(
            str(STATIC / "index.html"), headers={"Content-Security-Policy": PAGE_CSP}
        )

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses=_error(503, "model loading or failed"))
    def readyz() -> JSONResponse:
        """Readiness: 200 once the model is loaded, 503 while loading or after a failure."""
        status = service.readiness()
        return JSONResponse(status, 200 if status["status"] == "ready" else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics: requests, latency, queued jobs, faces scored, batch sizes."""
        return Response(service.metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/info", tags=["api"])
    def info() -> dict:
        """The model, the limits a client must respect, and whether an API key is needed."""
        return {"version": __version__, **settings.public(), **service.readiness()}

    @app.post(
        "/v1/images",
        tags=["api"],
        dependencies=auth,
        openapi_extra=UPLOAD_OPENAPI,
        responses={**UPLOAD_ERRORS, **_error(504, "the analysis took too long")},
    )
    async def analyze_image(
        request: Request,
        heatmaps: bool | None = None,
        timeout: Annotated[float | None, Query(gt=0)] = None,
    ) -> JSONResponse:
        """Score the faces of one image and answer at once (videos go to ``POST /v1/jobs``).

        ``heatmaps`` (default: the service's setting) adds per-person heatmap overlays;
        ``timeout`` shortens the service's analysis time limit for this request (504 past it).
        """
        limit = min(timeout or settings.request_timeout_s, settings.request_timeout_s)
        analyzer = service.require_analyzer()
        slot = await service.image_slot()
        try:
            upload = await receive_upload(
                request, settings.uploads_dir, settings.max_upload_bytes, settings.upload_timeout_s
            )
        except BaseException:
            slot.release()
            raise
        if upload.kind != "image":
            upload.path.unlink(missing_ok=True)
            slot.release()
            raise Problem(415, "video_upload", f"{upload.filename} is a video: use POST /v1/jobs")

        explain = settings.heatmaps if heatmaps is None else heatmaps

        def run() -> dict:
            try:
                return service.analyze(analyzer, upload.path, upload.filename, explain)
            finally:  # the slot frees when the work ends, even after the client got a 504
                upload.path.unlink(missing_ok=True)
                slot.release()

        try:
            with anyio.fail_after(limit):
                result = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except MediaError as err:
            raise Problem(422, err.reason, str(err)) from None
        except TimeoutError:
            raise Problem(
                504,
                "timeout",
                f"{upload.filename}: analysis took over {limit:g} s",
            ) from None
        return JSONResponse(result)

    @app.post(
        "/v1/jobs",
        tags=["api"],
        status_code=202,
        dependencies=auth,
        openapi_extra=UPLOAD_OPENAPI,
        responses=UPLOAD_ERRORS,
    )
    async def submit_job(request: Request, heatmaps: bool | None = None) -> JSONResponse:
        """Queue a video (or image) for analysis; answers 202 with the job's id and links."""
        service.expire_jobs()
        if service.store.queued_count() >= settings.max_queue:  # refuse before the upload
            raise _queue_full(settings.max_queue)
        upload = await receive_upload(
            request, settings.uploads_dir, settings.max_upload_bytes, settings.upload_timeout_s
        )
        explain = settings.heatmaps if heatmaps is None else heatmaps
        try:  # committed (fsync) before the 202: off the event loop
            job = await anyio.to_thread.run_sync(
                service.store.submit,
                upload.filename,
                upload.path,
                upload.size,
                explain,
                settings.max_queue,
            )
        except QueueFull:
            upload.path.unlink(missing_ok=True)
            raise _queue_full(settings.max_queue) from None
        service.job_submitted()
        body = _job_body(job)
        return JSONResponse(body, 202, headers={"Location": body["links"]["self"]})

    @app.get("/v1/jobs", tags=["api"], dependencies=auth)
    def list_jobs(
        status: Annotated[JobStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        """Jobs newest first, ``limit`` from ``offset``, only ``status`` ones when given;
        ``next`` links the following page (null on the last)."""
        service.expire_jobs()
        jobs, total = service.store.list_jobs(status, limit, offset)
        following = None
        if offset + len(jobs) < total:
            query = {"status": status, "limit": limit, "offset": offset + limit}
            following = "/v1/jobs?" + urlencode({k: v for k, v in query.items() if v is not None})
        return {
            "jobs": [_job_body(job) for job in jobs],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next": following,
        }

    @app.get(
        "/v1/jobs/{job_id}", tags=["api"], dependencies=auth, responses=_error(404, "unknown job")
    )
    def job_status(job_id: str) -> dict:
        """A job's status: queued, running, done or failed (with the error)."""
        return _job_body(_find(job_id))

    @app.get(
        "/v1/jobs/{job_id}/result",
        tags=["api"],
        dependencies=auth,
        responses={
            **_error(404, "unknown job"),
            **_error(409, "the job has not finished"),
            **_error(422, "the job failed: the error says why"),
        },
    )
    def job_result(job_id: str) -> Response:
        """The finished job's result (the same JSON as ``POST /v1/images`` answers)."""
        job = _find(job_id)
        if job.status == "failed":
            raise Problem(422, job.error_code or "failed", job.error or "the job failed")
        if job.status != "done":
            raise Problem(409, "not_ready", f"job {job.id} is {job.status}", {"Retry-After": "1"})
        return Response(job.result, media_type="application/json")

    @app.delete(
        "/v1/jobs/{job_id}",
        tags=["api"],
        status_code=204,
        dependencies=auth,
        responses=_error(404, "unknown job"),
    )
    def delete_job(job_id: str) -> Response:
        """Delete a job, its upload and its result; a running job stops at its next frame."""
        if not _JOB_ID.fullmatch(job_id) or service.delete_job(job_id) is None:
            raise Problem(404, "not_found", f"no job {job_id!r}")
        return Response(status_code=204)

    def _find(job_id: str) -> Job:
        service.expire_jobs()
        job = service.store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise Problem(404, "not_found", f"no job {job_id!r}")
        return job

    return app


def _queue_full(max_queue: int) -> Problem:
    return Problem(
        429, "queue_full", f"the job queue is full ({max_queue} waiting)", {"Retry-After": "5"}
    )


def _job_body(job: Job) -> dict:
    url = f"/v1/jobs/{job.id}"
    return {**job.to_dict(), "links": {"self": url, "result": f"{url}/result"}}
