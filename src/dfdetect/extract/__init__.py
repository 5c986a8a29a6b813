"""Dataset extraction: raw videos and images -> aligned face crops in the
``<dataset>/<source>/<video>/<frame>.png`` layout, a manifest and a failure report."""

from __future__ import annotations

from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.pipeline import ExtractSummary, run_extraction

__all__ = ["ExtractOptions", "ExtractSummary", "run_extraction"]
