"""Job routes: videos (or images) queued, listed, polled, fetched and deleted."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlencode

import anyio
from fastapi import FastAPI, Query, Request, Response
from fastapi.params import Depends
from fastapi.responses import JSONResponse

from dfdetect.serve.jobs import Job, QueueFull
from dfdetect.serve.problems import Problem, problem_responses
from dfdetect.serve.service import Service
from dfdetect.serve.uploads import UPLOAD_ERRORS, UPLOAD_OPENAPI, receive_upload

_JOB_ID = re.compile(r"[0-9a-f]{32}")
JobStatus = Literal["queued", "running", "done", "failed"]
MAX_PAGE = 500


def add_job_routes(app: FastAPI, service: Service, auth: list[Depends]) -> None:
    """``/v1/jobs`` and ``/v1/jobs/{job_id}[/result]`` (behind ``auth``)."""
    _add_queue_routes(app, service, auth)
    _add_job_item_routes(app, service, auth)


def _add_queue_routes(app: FastAPI, service: Service, auth: list[Depends]) -> None:
    """``POST /v1/jobs`` (submit) and ``GET /v1/jobs`` (list)."""
    settings = service.settings

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


def _add_job_item_routes(app: FastAPI, service: Service, auth: list[Depends]) -> None:
    """``GET``/``DELETE /v1/jobs/{job_id}`` and ``GET /v1/jobs/{job_id}/result``."""

    @app.get(
        "/v1/jobs/{job_id}",
        tags=["api"],
        dependencies=auth,
        responses=problem_responses(404, "unknown job"),
    )
    def job_status(job_id: str) -> dict:
        """A job's status: queued, running, done or failed (with the error)."""
        return _job_body(_find(job_id))

    @app.get(
        "/v1/jobs/{job_id}/result",
        tags=["api"],
        dependencies=auth,
        responses={
            **problem_responses(404, "unknown job"),
            **problem_responses(409, "the job has not finished"),
            **problem_responses(422, "the job failed: the error says why"),
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
        responses=problem_responses(404, "unknown job"),
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


def _queue_full(max_queue: int) -> Problem:
    return Problem(
        429, "queue_full", f"the job queue is full ({max_queue} waiting)", {"Retry-After": "5"}
    )


def _job_body(job: Job) -> dict:
    url = f"/v1/jobs/{job.id}"
    return {**job.to_dict(), "links": {"self": url, "result": f"{url}/result"}}
