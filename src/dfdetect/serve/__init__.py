"""The HTTP service and web page: ``dfdetect serve`` (FastAPI on uvicorn).

Importing this package is light: ``create_app`` (FastAPI) loads on first use, so the CLI can
read :class:`ServeSettings` defaults without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfdetect.serve.settings import ServeSettings

if TYPE_CHECKING:
    from dfdetect.serve.app import create_app

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from dfdetect.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'dfdetect.serve' has no attribute {name!r}")
