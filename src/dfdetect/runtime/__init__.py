"""The runtime layer, below faces/ and model/: ONNX Runtime sessions (:mod:`.sessions`), ONNX
export helpers and staging (:mod:`.export`), the cache folder and its integrity (:mod:`.cache`),
and Hub resolution with its offline rules (:mod:`.hub`). It knows nothing of detectors or faces.
"""

from __future__ import annotations

RUNTIMES = ("auto", "torch", "onnx")  # engines that score: see dfdetect.model.loading


def check_runtime(runtime: str) -> None:
    """Raise ValueError unless ``runtime`` is one of :data:`RUNTIMES`."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
