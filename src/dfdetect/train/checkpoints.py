"""Run-folder checkpoints: ``last`` (resumable: weights + optimizer/scheduler/step) and ``best``.

Weights go through :meth:`Detector.save_pretrained` (trained tensors + config, face-crop preset
included); the trainer state is a plain tensor/number dict read back with ``weights_only=True``.

A checkpoint is complete or absent: :func:`save_checkpoint` writes ``NAME.tmp`` to disk in full
(its last file marks it finished), then moves ``NAME`` to ``NAME.old`` and ``NAME.tmp`` to
``NAME``. A crash at any point leaves a finished checkpoint in one of the three folders, and
:func:`restore_checkpoint` resumes from the newest one that loads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from dfdetect.atomic import atomic_open
from dfdetect.errors import CheckpointError
from dfdetect.model.checkpoint import load_strict, read_safetensors
from dfdetect.model.config import WEIGHTS_NAME

STATE_NAME = "trainer_state.pt"
INFO_NAME = "checkpoint.json"


def _sibling(folder: Path, suffix: str) -> Path:
    return folder.with_name(f"{folder.name}.{suffix}")


def _sync(path: Path) -> None:
    """Flush ``path`` (a file or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_last(path: Path, write) -> None:
    """``write(fh)`` into ``path`` atomically and flushed to disk: the file that marks a
    checkpoint folder finished."""
    with atomic_open(path, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(
    detector, folder: Path, state: dict[str, Any] | None = None, info: dict | None = None
) -> Path:
    """Write ``detector`` with a trainer ``state`` (``last``) or an ``info`` dict (``best``) to
    ``folder``, replacing it so that a crash never leaves it half-written (see the module)."""
    tmp, old = _sibling(folder, "tmp"), _sibling(folder, "old")
    shutil.rmtree(tmp, ignore_errors=True)
    detector.save_pretrained(tmp)
    for name in os.listdir(tmp):
        _sync(tmp / name)
    if state is not None:
        _write_last(tmp / STATE_NAME, lambda fh: torch.save(state, fh))
    if info is not None:
        text = (json.dumps(info, indent=2) + "\n").encode()
        _write_last(tmp / INFO_NAME, lambda fh: fh.write(text))
    _sync(tmp)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    _sync(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def has_state(folder: Path) -> bool:
    """True when ``folder`` holds a finished resumable checkpoint."""
    return (folder / STATE_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def resumable(folder: Path) -> list[Path]:
    """Finished resumable checkpoints of ``folder``, newest first: ``folder.tmp`` (written by a
    save that stopped before its renames), ``folder``, ``folder.old`` (the one being replaced)."""
    return [p for p in (_sibling(folder, "tmp"), folder, _sibling(folder, "old")) if has_state(p)]


def load_checkpoint(detector, folder: Path) -> dict[str, Any]:
    """Load ``folder``'s trained tensors into ``detector`` (strictly) and return its state."""
    weights = folder / WEIGHTS_NAME
    load_strict(detector, read_safetensors(weights), detector.trained_names, str(weights))
    try:
        return torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to load safely is a broken checkpoint, never unpickled
        raise CheckpointError(f"{folder / STATE_NAME}: cannot load trainer state ({exc})") from exc


def restore_checkpoint(detector, folder: Path) -> dict[str, Any]:
    """Load the newest of :func:`resumable` ``folder`` checkpoints that loads (a torn one is
    skipped for the one before it) into ``detector`` and return its state; the one loaded is
    moved to ``folder`` so the next save keeps it until it is replaced."""
    problems = []
    for path in resumable(folder):
        try:
            state = load_checkpoint(detector, path)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        if path != folder:
            shutil.rmtree(folder, ignore_errors=True)
            path.rename(folder)
        return state
    raise CheckpointError(f"{folder}: no checkpoint can be resumed ({'; '.join(problems)})")
