"""Operational routes: the web page and its files, liveness, readiness, metrics and info."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from dfdetect.serve.problems import problem_responses
from dfdetect.serve.service import Service
from dfdetect.version import __version__

STATIC = resources.files("dfdetect.serve") / "static"
# The page loads only its own files; images and media come from the user's file or the API.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'"
)


def add_operational_routes(app: FastAPI, service: Service) -> None:
    """``/`` (the page), ``/static``, ``/healthz``, ``/readyz``, ``/metrics`` and ``/v1/info``."""

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

    @app.get("/readyz", tags=["ops"], responses=problem_responses(503, "model loading or failed"))
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
        return {"version": __version__, **service.settings.public(), **service.readiness()}
