"""Image routes: ``POST /v1/images`` scores one image's faces and answers at once."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse

from dfdetect.errors import MediaError
from dfdetect.serve.problems import Problem, problem_responses
from dfdetect.serve.service import Service
from dfdetect.serve.uploads import UPLOAD_ERRORS, UPLOAD_OPENAPI, receive_upload


def add_image_routes(app: FastAPI, service: Service, auth: list[Depends]) -> None:
    """``POST /v1/images`` (behind ``auth``)."""
    settings = service.settings

    @app.post(
        "/v1/images",
        tags=["api"],
        dependencies=auth,
        openapi_extra=UPLOAD_OPENAPI,
        responses={**UPLOAD_ERRORS, **problem_responses(504, "the analysis took too long")},
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
