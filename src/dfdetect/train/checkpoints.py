"""Run-folder checkpoints: ``last`` (resumable: weights + optimizer/scheduler/step) and ``best``.

Weights go through :meth:`Detector.save_pretrained` (trained tensors + config, face-crop preset
included); the trainer state is a plain tensor/number dict read back with ``weights_only=True``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from dfdetect.errors import CheckpointError
from dfdetect.model.checkpoint import read_safetensors
from dfdetect.model.config import WEIGHTS_NAME

STATE_NAME = "trainer_state.pt"


def save_checkpoint(
    detector, folder: Path, state: dict[str, Any] | None = None, info: dict | None = None
) -> Path:
    """Write ``detector`` (and a trainer ``state``) to ``folder``, replacing it atomically."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    detector.save_pretrained(tmp)
    if state is not None:
        torch.save(state, tmp / STATE_NAME)
    if info is not None:
        (tmp / "checkpoint.json").write_text(json.dumps(info, indent=2) + "\n")
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def has_state(folder: Path) -> bool:
    """True when ``folder`` holds a resumable checkpoint."""
    return (folder / STATE_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def load_checkpoint(detector, folder: Path) -> dict[str, Any]:
    """Load ``folder``'s trained tensors into ``detector`` (strictly) and return its state."""
    weights = folder / WEIGHTS_NAME
    detector.load_tensors(read_safetensors(weights), str(weights))
    try:
        return torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to load safely is a broken checkpoint, never unpickled
        raise CheckpointError(f"{folder / STATE_NAME}: cannot load trainer state ({exc})") from exc
