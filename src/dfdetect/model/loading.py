"""The loading seam: resolve a model name once, read it with the one reader for its format, and
hand back a predictor for the requested runtime (:func:`load_predictor`).

Names: ``tiny-random``; a local file (Lightning ``.ckpt``, TorchScript ``.torchscript``/``.pt``
archive); a local folder or Hub id holding a dfdetect checkpoint, a GenD checkpoint, a
``model.ckpt`` or a ``model.torchscript``. Registered backbone names are refused with advice:
they are not trained detectors.

Runtimes (:data:`RUNTIMES`): ``auto`` picks what is fastest where the model runs: ONNX Runtime
on a CPU (the model is exported once into the cache, see :mod:`dfdetect.model.onnx_cache`; a
model that cannot be exported, e.g. timm's Perception Encoder with its resampled position
embeddings, runs on PyTorch with a warning), PyTorch (bf16) on CUDA and MPS. ``torch`` and
``onnx`` force one; None runs the model as stored (PyTorch for a checkpoint, ONNX Runtime for
an export; nothing exported). An ONNX export folder always runs on ONNX Runtime. Gradients
(heatmaps, training) need PyTorch: ``need_torch`` or runtime ``torch``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.model.checkpoint import Checkpoint, read_safetensors
from dfdetect.model.config import CONFIG_NAME, FORMAT_NAME, WEIGHTS_NAME, DetectorConfig, read_json
from dfdetect.model.gend import GEND_MODEL_TYPE, read_gend, read_lightning
from dfdetect.model.onnx_detector import ONNX_NAME
from dfdetect.model.registry import ALIASES, BACKBONES, TINY_RANDOM
from dfdetect.model.torchscript import read_torchscript
from dfdetect.runtime import check_runtime
from dfdetect.runtime.hub import resolve_folder

CHECKPOINT_FILES = ("config.json", "*.safetensors", "model.ckpt", "model.torchscript", "*.onnx")
LIGHTNING_FILE = "model.ckpt"
TORCHSCRIPT_FILE = "model.torchscript"
TORCHSCRIPT_SUFFIXES = (".torchscript", ".pt", ".pth", ".jit")
ZIP_MAGIC = b"PK\x03\x04"


def read_dfdetect(folder: Path, data: dict) -> Checkpoint:
    """dfdetect's own format: config.json + the trained tensors in model.safetensors, or, for an
    ONNX export, config.json + model.onnx."""
    config = DetectorConfig.from_dict(data)
    if config.onnx is not None:
        graph = folder / config.onnx.get("file", ONNX_NAME)
        if not graph.is_file():
            raise CheckpointError(f"{folder}: ONNX export without its graph {graph.name}")
        return Checkpoint(config, onnx=graph)
    return Checkpoint(config, read_safetensors(folder / WEIGHTS_NAME))


def _is_torchscript(path: Path) -> bool:
    with path.open("rb") as f:
        return path.suffix in TORCHSCRIPT_SUFFIXES and f.read(4) == ZIP_MAGIC


def read_file(path: Path) -> Checkpoint:
    """A checkpoint given as one file."""
    if path.suffix == ".ckpt":
        return read_lightning(path)
    if _is_torchscript(path):
        return read_torchscript(path)
    raise CheckpointError(
        f"{path}: expected a model folder, a Lightning .ckpt file or a TorchScript archive "
        f"({', '.join(TORCHSCRIPT_SUFFIXES)})"
    )


# config.json "format" / "model_type" -> reader of a folder holding that config.
FOLDER_FORMATS: dict[tuple[str, str], Callable[[Path, dict], Checkpoint]] = {
    ("format", FORMAT_NAME): read_dfdetect,
    ("model_type", GEND_MODEL_TYPE): read_gend,
}


def read_folder(folder: Path) -> Checkpoint:
    """A checkpoint folder: by its config.json, else by the authors' file names."""
    config_path = folder / CONFIG_NAME
    data = read_json(config_path) if config_path.is_file() else {}
    for (key, value), reader in FOLDER_FORMATS.items():
        if data.get(key) == value:
            return reader(folder, data)
    if (folder / LIGHTNING_FILE).is_file():
        return read_lightning(folder / LIGHTNING_FILE)
    if (folder / TORCHSCRIPT_FILE).is_file():
        return read_torchscript(folder / TORCHSCRIPT_FILE)
    found = sorted(p.name for p in folder.iterdir())[:10]
    raise CheckpointError(
        f"{folder}: not a dfdetect, GenD, Lightning or TorchScript checkpoint (config.json "
        f"model_type={data.get('model_type')!r}, files: {found})"
    )


def resolve_name(name_or_path: str | os.PathLike) -> Path | None:
    """The one place a model name is resolved: the file or folder ``name_or_path`` names (a
    Hub id becomes its snapshot folder), None for ``tiny-random``. Backbone names are refused."""
    name = str(name_or_path)
    if name == TINY_RANDOM:
        return None
    if name in BACKBONES or name in ALIASES:
        raise ModelNotFoundError(
            f"{name!r} is a backbone, not a trained detector: load a detector checkpoint "
            "(e.g. yermandy/GenD_CLIP_L_14), or build an untrained one with "
            f"Detector.from_config(DetectorConfig(backbone={name!r}))"
        )
    path = Path(name).expanduser()
    return path if path.is_file() else resolve_folder(name, CHECKPOINT_FILES)


def read_resolved(path: Path | None) -> Checkpoint:
    """The checkpoint at a path :func:`resolve_name` gave."""
    if path is None:
        return Checkpoint(DetectorConfig(backbone=TINY_RANDOM))
    return read_file(path) if path.is_file() else read_folder(path)


def read_checkpoint(name_or_path: str | os.PathLike) -> Checkpoint:
    """Resolve ``name_or_path`` once and read it with its format's loader."""
    return read_resolved(resolve_name(name_or_path))


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score: ``detector`` (the PyTorch model, or the ONNX export when no
    PyTorch model was needed or exists), ``predictor`` (what scores: ``detector`` or its ONNX
    export) and ``fingerprint`` (see :func:`~dfdetect.model.predictor.fingerprint`; the PyTorch
    model's even when it was not built)."""

    detector: Any
    predictor: Any
    fingerprint: str


def _onnx_export(checkpoint: Checkpoint, runtime: str, device, dtype):
    """The ONNX Runtime detector of an ONNX export (CPU, float32 only)."""
    import torch

    from dfdetect.model.device import resolve_dtype
    from dfdetect.model.onnx_detector import OnnxDetector

    if runtime == "torch":
        raise ModelNotFoundError(
            f"{checkpoint.onnx.parent} is an ONNX export: it runs on ONNX Runtime only (load "
            "the original checkpoint for runtime torch)"
        )
    if device is not None and str(device) not in ("cpu", "auto"):
        raise ModelNotFoundError(
            f"{checkpoint.onnx}: ONNX exports run on the CPU; for {device} load the original "
            "checkpoint (runtime torch)"
        )
    if dtype is not None and resolve_dtype(dtype, torch.device("cpu")) != torch.float32:
        raise ModelNotFoundError(f"{checkpoint.onnx}: ONNX exports run in float32, not {dtype}")
    return OnnxDetector(checkpoint.config, checkpoint.onnx)


def on_runtime(detector, runtime: str, cache: Path | None) -> Any:
    """What runs an already built PyTorch ``detector`` under ``runtime``: itself, or its cached
    export (the seam's last step, for detectors built in memory, e.g. by benchmarks)."""
    from dfdetect.model.onnx_cache import cached_onnx
    from dfdetect.runtime.export import ExportError

    if runtime == "torch" or (runtime == "auto" and detector.device.type != "cpu"):
        return detector
    if detector.device.type != "cpu":
        raise ModelNotFoundError(f"runtime onnx runs on the CPU, not {detector.device}")
    try:
        return cached_onnx(detector, cache)
    except ExportError as exc:
        if runtime == "onnx":
            raise
        warnings.warn(f"{exc}; running on PyTorch instead", UserWarning, stacklevel=3)
        return detector


def load_predictor(
    name: str | os.PathLike,
    *,
    runtime: str | None = "auto",
    device: Any = None,
    dtype: Any = None,
    need_torch: bool = False,
    cache: Path | None = None,
) -> LoadedModel:
    """The one way to load a model to score with: ``name`` resolved once and run as ``runtime``
    says (see the module docstring). Unless ``need_torch`` (gradients), a CPU run whose export
    is cached skips building the PyTorch model (see :mod:`dfdetect.model.onnx_cache`)."""
    from dfdetect.model.detector import Detector
    from dfdetect.model.device import resolve_device
    from dfdetect.model.onnx_cache import from_memo, memo_path, write_memo
    from dfdetect.model.onnx_detector import OnnxDetector
    from dfdetect.model.predictor import fingerprint

    if runtime is not None:
        check_runtime(runtime)
    path = resolve_name(name)
    memo = None
    fp32 = dtype is None or str(dtype).lower() in ("auto", "float32", "fp32")
    if (
        not need_torch
        and runtime in ("auto", "onnx")
        and fp32
        and resolve_device(device).type == "cpu"
    ):
        memo = memo_path(str(name), path, cache)
        loaded = from_memo(memo, cache)
        if loaded is not None:
            return LoadedModel(*loaded)
    checkpoint = read_resolved(path)
    if checkpoint.onnx is not None:
        exported = _onnx_export(checkpoint, runtime, device, dtype)
        return LoadedModel(exported, exported, fingerprint(exported))
    detector = Detector.from_checkpoint(checkpoint, device=device, dtype=dtype)
    predictor = detector if runtime is None else on_runtime(detector, runtime, cache)
    loaded = LoadedModel(detector, predictor, fingerprint(detector))
    if memo is not None and isinstance(predictor, OnnxDetector):
        write_memo(memo, predictor, loaded.fingerprint)
    return loaded
