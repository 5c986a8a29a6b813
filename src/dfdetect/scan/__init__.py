"""Scanning images, videos and folders: faces scored, tracked into persons, aggregated into
per-file verdicts, stored in SQLite and exported."""

from __future__ import annotations

from dfdetect.scan.options import ScanOptions
from dfdetect.scan.pipeline import ScanPipeline
from dfdetect.scan.results import FaceResult, FileResult, FrameResult, PersonResult, Visuals
from dfdetect.scan.store import ResultStore
from dfdetect.scan.visuals import encode_visuals

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
