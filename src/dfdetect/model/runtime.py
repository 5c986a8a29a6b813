"""Which engine runs a model: PyTorch or ONNX Runtime.

``auto`` picks what is fastest where the model runs: ONNX Runtime on a CPU (the model is
exported once and cached under its content hash, so later runs load the graph straight away;
a model that cannot be exported, e.g. timm's Perception Encoder with its resampled position
embeddings, runs on PyTorch with a warning), PyTorch (bf16) on CUDA and MPS. ``torch`` and
``onnx`` force one. An ONNX export folder always
runs on ONNX Runtime. Gradients (heatmaps, training) need PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import CONFIG_NAME, DetectorConfig

RUNTIMES = ("auto", "torch", "onnx")
CACHE_ENV = "DFDETECT_CACHE"


def cache_root() -> Path:
    """``$DFDETECT_CACHE``, else ``$XDG_CACHE_HOME/dfdetect`` (``~/.cache/dfdetect``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dfdetect"


def content_key(detector) -> str:
    """sha256 of a torch detector's config and every tensor: equal keys, equal exports."""
    config = json.dumps(detector.config.to_dict(), sort_keys=True, default=str)
    text = config + detector.weights_digest(everything=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_onnx(detector, cache: Path | None = None):
    """The ONNX export of ``detector`` (an :class:`~dfdetect.model.onnx_detector.OnnxDetector`)
    from the cache, exported there first when missing."""
    from dfdetect.model.export import ExportError, export_onnx
    from dfdetect.model.onnx_detector import ONNX_NAME, OnnxDetector

    key = content_key(detector)
    folder = (cache or cache_root()) / "onnx" / key
    if not (folder / ONNX_NAME).is_file():
        try:
            export_onnx(detector, folder, source_digest=key)
        except ExportError:
            if not (folder / ONNX_NAME).is_file():  # not another process finishing first
                raise
    return OnnxDetector(DetectorConfig.load(folder / CONFIG_NAME), folder / ONNX_NAME)


def select_runtime(detector, runtime: str = "auto", cache: Path | None = None):
    """What runs ``detector`` (a loaded :class:`~dfdetect.Detector` or an ONNX export) under
    ``runtime``: the detector itself, or its cached ONNX export."""
    from dfdetect.model.onnx_detector import OnnxDetector

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if isinstance(detector, OnnxDetector):
        if runtime == "torch":
            raise ModelNotFoundError(
                f"{detector.path.parent} is an ONNX export: it runs on ONNX Runtime only (load "
                "the original checkpoint for runtime torch)"
            )
        return detector
    if runtime == "torch" or (runtime == "auto" and detector.device.type != "cpu"):
        return detector
    if detector.device.type != "cpu":
        raise ModelNotFoundError(f"runtime onnx runs on the CPU, not {detector.device}")
    from dfdetect.model.export import ExportError

    try:
        return cached_onnx(detector, cache)
    except ExportError as exc:
        if runtime == "onnx":
            raise
        warnings.warn(f"{exc}; running on PyTorch instead", UserWarning, stacklevel=2)
        return detector


def load_detector(
    name: str,
    *,
    runtime: str = "auto",
    device: str | None = None,
    dtype: str | None = None,
    cache: Path | None = None,
):
    """``name`` loaded and run as ``runtime`` says (see :func:`select_runtime`)."""
    from dfdetect.model.detector import Detector

    detector = Detector.from_pretrained(name, device=device, dtype=dtype)
    return select_runtime(detector, runtime, cache)
