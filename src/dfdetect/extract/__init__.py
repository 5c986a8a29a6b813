"""Dataset extraction: raw videos and images -> aligned face crops in the
``<dataset>/<source>/<video>/<frame>.png`` layout, a manifest and a failure report."""

from __future__ import annotations

from dfdetect.extract.options import ExtractOptions

__all__ = ["ExtractOptions", "ExtractSummary", "run_extraction"]


def __getattr__(name: str):  # lazy: the options (``dfdetect extract --help``) need no PyAV
    if name in ("ExtractSummary", "run_extraction"):
        from dfdetect.extract import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'dfdetect.extract' has no attribute {name!r}")
