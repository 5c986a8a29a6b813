"""The FastAPI application: the HTTP API, health and metrics, and the web page; each group of
routes is registered by its own function (:mod:`dfdetect.serve.routes`)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dfdetect.serve.auth import api_key_dependency
from dfdetect.serve.docs import add_offline_docs
from dfdetect.serve.metrics import MetricsMiddleware
from dfdetect.serve.problems import (
    Problem,
    client_closed_handler,
    http_error_handler,
    invalid_request_handler,
    problem_handler,
)
from dfdetect.serve.routes.images import add_image_routes
from dfdetect.serve.routes.jobs import add_job_routes
from dfdetect.serve.routes.operational import add_operational_routes
from dfdetect.serve.service import LoadErrorHook, Service, SharedState
from dfdetect.serve.settings import ServeSettings
from dfdetect.version import __version__


def create_app(
    settings: ServeSettings,
    on_load_error: LoadErrorHook | None = None,
    shared: SharedState | None = None,
) -> FastAPI:
    """A ready-to-serve app for ``settings``; the model loads in the background at startup
    (``/readyz`` answers 503 until it is loaded; ``on_load_error`` hears a load failure).
    ``shared``: this app is one replica of a service sharing its jobs and scorer."""
    service = Service(settings, on_load_error, shared)
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
    add_operational_routes(app, service)
    add_image_routes(app, service, auth)
    add_job_routes(app, service, auth)
    return app
