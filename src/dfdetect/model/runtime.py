"""Which engine runs a model: PyTorch or ONNX Runtime.

``auto`` picks what is fastest where the model runs: ONNX Runtime on a CPU (the model is
exported once and cached under its content hash, so later runs load the graph straight away;
a model that cannot be exported, e.g. timm's Perception Encoder with its resampled position
embeddings, runs on PyTorch with a warning), PyTorch (bf16) on CUDA and MPS. ``torch`` and
``onnx`` force one. An ONNX export folder always
runs on ONNX Runtime. Gradients (heatmaps, training) need PyTorch.

A cached export that no longer loads (a truncated or damaged file) is removed and exported again
once, with a warning.

Start-up: each cached export is also recorded under a key of the checkpoint's files as they lie
on disk (paths, sizes, modification times) and of the library versions, so a later run that
needs no gradients loads the graph without building the PyTorch model at all (no transformers
import, no weight hashing). Any change to the files or versions misses and takes the full path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dfdetect.atomic import write_text_atomic
from dfdetect.errors import CheckpointError, DfdetectError, ModelNotFoundError
from dfdetect.model.config import CONFIG_NAME, DetectorConfig

RUNTIMES = ("auto", "torch", "onnx")
CACHE_ENV = "DFDETECT_CACHE"
EXPORT_VERSION = 2  # bump when exports change: older cached exports are then not reused
KEYED_PACKAGES = ("dfdetect", "torch", "transformers", "timm", "onnx", "onnxruntime")


def check_runtime(runtime: str) -> None:
    """Raise ValueError unless ``runtime`` is one of :data:`RUNTIMES`."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")


def cache_root() -> Path:
    """``$DFDETECT_CACHE``, else ``$XDG_CACHE_HOME/dfdetect`` (``~/.cache/dfdetect``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dfdetect"


def content_key(detector) -> str:
    """sha256 of a torch detector's config and every tensor: equal keys, equal exports."""
    config = json.dumps(detector.config.to_dict(), sort_keys=True, default=str)
    text = f"{EXPORT_VERSION}:{config}{detector.weights_digest(everything=True)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def identity(detector) -> dict[str, Any]:
    """What results scored by ``detector`` are keyed by: its config and its weights' digest (the
    trained tensors of a PyTorch detector, the graph of an ONNX export)."""
    return {"config": detector.config.to_dict(), "weights": detector.weights_digest()}


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def source_key(name: str) -> str | None:
    """A key of the checkpoint files ``name`` names as they lie on disk (path, size, mtime of
    each) and of the library versions; None when ``name`` does not resolve (the full load then
    says why)."""
    from dfdetect.model.hub import resolve_folder
    from dfdetect.model.loading import CHECKPOINT_FILES
    from dfdetect.model.registry import TINY_RANDOM

    files: list[Path] = []
    if name != TINY_RANDOM:
        path = Path(name).expanduser()
        try:
            folder = path if path.is_file() else resolve_folder(name, CHECKPOINT_FILES)
        except (DfdetectError, OSError):
            return None
        files = [folder] if folder.is_file() else sorted(p for p in folder.iterdir() if p.is_file())
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    versions = {package: _package_version(package) for package in KEYED_PACKAGES}
    text = json.dumps([EXPORT_VERSION, name, stats, versions], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score: ``detector`` (the PyTorch model, or the ONNX export when no
    PyTorch model was needed or exists), ``predictor`` (what scores: ``detector`` or its ONNX
    export) and ``identity`` (see :func:`identity`; the PyTorch model's even when it was not
    built)."""

    detector: Any
    predictor: Any
    identity: dict[str, Any]


def _memo(key: str, cache: Path | None) -> Path:
    return (cache or cache_root()) / "onnx" / "sources" / f"{key}.json"


def _from_memo(memo: Path, cache: Path | None) -> LoadedModel | None:
    from dfdetect.model.onnx_detector import ONNX_NAME, OnnxDetector

    try:
        record = json.loads(memo.read_text())
        folder = (cache or cache_root()) / "onnx" / record["export"]
        config = DetectorConfig.load(folder / CONFIG_NAME)
        if not (folder / ONNX_NAME).is_file():
            return None
        exported = OnnxDetector(config, folder / ONNX_NAME)
    except (OSError, ValueError, KeyError, TypeError, DfdetectError):
        return None  # a stale or torn record: take the full path, which rewrites it
    return LoadedModel(exported, exported, record["identity"])


def _export_into_cache(detector, folder: Path, key: str) -> None:
    from dfdetect.model.export import ExportError, export_onnx
    from dfdetect.model.onnx_detector import ONNX_NAME

    try:
        export_onnx(detector, folder, source_digest=key)
    except (OSError, ExportError) as err:
        if (folder / ONNX_NAME).is_file():  # another process finished first
            return
        if isinstance(err, OSError):
            raise ExportError(f"cannot write the ONNX cache {folder}: {err}") from err
        raise


def cached_onnx(detector, cache: Path | None = None):
    """The ONNX export of ``detector`` (an :class:`~dfdetect.model.onnx_detector.OnnxDetector`)
    from the cache, exported there first when missing, and again once (with a warning) when
    the cached one no longer loads."""
    from dfdetect.model.onnx_detector import ONNX_NAME, OnnxDetector

    key = content_key(detector)
    folder = (cache or cache_root()) / "onnx" / key
    if not (folder / ONNX_NAME).is_file():
        _export_into_cache(detector, folder, key)
    try:
        return OnnxDetector(DetectorConfig.load(folder / CONFIG_NAME), folder / ONNX_NAME)
    except CheckpointError as err:
        warnings.warn(
            f"damaged cached export removed and exported again: {err}", UserWarning, stacklevel=2
        )
    shutil.rmtree(folder, ignore_errors=True)
    _export_into_cache(detector, folder, key)
    return OnnxDetector(DetectorConfig.load(folder / CONFIG_NAME), folder / ONNX_NAME)


def select_runtime(detector, runtime: str = "auto", cache: Path | None = None):
    """What runs ``detector`` (a loaded :class:`~dfdetect.Detector` or an ONNX export) under
    ``runtime``: the detector itself, or its cached ONNX export."""
    from dfdetect.model.onnx_detector import OnnxDetector

    check_runtime(runtime)
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
    return load_model(name, runtime=runtime, device=device, dtype=dtype, cache=cache).predictor


def load_model(
    name: str,
    *,
    runtime: str = "auto",
    device: str | None = None,
    dtype: str | None = None,
    need_torch: bool = False,
    cache: Path | None = None,
) -> LoadedModel:
    """``name`` loaded and run as ``runtime`` says (see :func:`select_runtime`). Unless
    ``need_torch`` (gradients), a CPU run whose export is cached skips building the PyTorch
    model."""
    from dfdetect.model.detector import Detector
    from dfdetect.model.device import resolve_device
    from dfdetect.model.onnx_detector import OnnxDetector

    check_runtime(runtime)
    memo = None
    fp32 = dtype is None or str(dtype).lower() in ("auto", "float32", "fp32")
    if not need_torch and runtime != "torch" and fp32 and resolve_device(device).type == "cpu":
        key = source_key(name)
        memo = _memo(key, cache) if key else None
        loaded = _from_memo(memo, cache) if memo and memo.is_file() else None
        if loaded is not None:
            return loaded
    detector = Detector.from_pretrained(name, device=device, dtype=dtype)
    predictor = select_runtime(detector, runtime, cache)
    loaded = LoadedModel(detector, predictor, identity(detector))
    if memo is not None and isinstance(predictor, OnnxDetector) and predictor is not detector:
        record = {"export": predictor.path.parent.name, "identity": loaded.identity}
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(memo, json.dumps(record, default=str) + "\n")
        except OSError:
            pass  # only the start-up shortcut is lost: the next run takes the full path again
    return loaded
