"""The HTTP service and web page: ``dfdetect serve`` (FastAPI on uvicorn)."""

from __future__ import annotations

from dfdetect.serve.app import create_app
from dfdetect.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
