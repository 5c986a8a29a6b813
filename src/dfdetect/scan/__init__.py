"""Scanning images, videos and folders: faces scored, tracked into persons, aggregated into
per-file verdicts, stored in SQLite and exported.

Importing this package is light (the CLI reads :class:`ScanOptions` defaults to build its
help); the pipeline, results and store load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dfdetect.scan.options import ScanOptions

if TYPE_CHECKING:
    from dfdetect.scan.pipeline import ScanPipeline
    from dfdetect.scan.results import FaceResult, FileResult, FrameResult, PersonResult, Visuals
    from dfdetect.scan.store import ResultStore
    from dfdetect.scan.visuals import encode_visuals

_LAZY = {
    "ScanPipeline": "dfdetect.scan.pipeline",
    "FaceResult": "dfdetect.scan.results",
    "FileResult": "dfdetect.scan.results",
    "FrameResult": "dfdetect.scan.results",
    "PersonResult": "dfdetect.scan.results",
    "Visuals": "dfdetect.scan.results",
    "ResultStore": "dfdetect.scan.store",
    "encode_visuals": "dfdetect.scan.visuals",
}

__all__ = [
    "FaceResult",
    "FileResult",
    "FrameResult",
    "PersonResult",
    "ResultStore",
    "ScanOptions",
    "ScanPipeline",
    "Visuals",
    "encode_visuals",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dfdetect.scan' has no attribute {name!r}")
