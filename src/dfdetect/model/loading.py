"""Resolve a model name once, then read it with the one loader for its format.

Names: ``tiny-random``; a local file (Lightning ``.ckpt``, TorchScript ``.torchscript``/``.pt``
archive); a local folder or Hub id holding a dfdetect checkpoint, a GenD checkpoint, a
``model.ckpt`` or a ``model.torchscript``. Registered backbone names are refused with advice:
they are not trained detectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.model.checkpoint import Checkpoint, read_safetensors
from dfdetect.model.config import CONFIG_NAME, FORMAT_NAME, WEIGHTS_NAME, DetectorConfig, read_json
from dfdetect.model.gend import GEND_MODEL_TYPE, read_gend, read_lightning
from dfdetect.model.hub import resolve_folder
from dfdetect.model.onnx_detector import ONNX_NAME
from dfdetect.model.registry import ALIASES, BACKBONES, TINY_RANDOM
from dfdetect.model.torchscript import read_torchscript

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


def read_checkpoint(name_or_path: str | os.PathLike) -> Checkpoint:
    """Resolve ``name_or_path`` once and read it with its format's loader."""
    name = str(name_or_path)
    if name == TINY_RANDOM:
        return Checkpoint(DetectorConfig(backbone=TINY_RANDOM))
    if name in BACKBONES or name in ALIASES:
        raise ModelNotFoundError(
            f"{name!r} is a backbone, not a trained detector: load a detector checkpoint "
            "(e.g. yermandy/GenD_CLIP_L_14), or build an untrained one with "
            f"Detector.from_config(DetectorConfig(backbone={name!r}))"
        )
    path = Path(name).expanduser()
    if path.is_file():
        return read_file(path)
    return read_folder(resolve_folder(name, CHECKPOINT_FILES))
