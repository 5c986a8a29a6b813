"""Strict tensor loading: safetensors in, every missing, unexpected or mis-shaped key named;
and the format-independent shape of a checkpoint read from disk."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dfdetect.errors import CheckpointError
from dfdetect.model.config import DetectorConfig

MAX_LISTED = 8
TOWER_PREFIX = "backbone.model."  # a detector's tower tensors: backbone.model.<tower name>


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    more = f" ... (+{len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file on the CPU; unreadable files raise CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err


def write_safetensors(
    path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]
) -> None:
    """Write contiguous CPU copies of ``tensors`` to ``path``."""
    from safetensors.torch import save_file

    save_file(
        {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path), metadata=meta
    )


def load_strict(
    module: nn.Module,
    tensors: dict[str, torch.Tensor],
    expected: Iterable[str],
    source: str,
    shown: Callable[[str], str] = str,
) -> None:
    """Copy ``tensors`` into ``module``'s parameters/buffers named in ``expected``.

    The key sets must match exactly and every shape must agree; otherwise CheckpointError lists
    the missing, unexpected and mis-shaped keys of ``source`` (each as ``shown`` names it).
    """
    expected = set(expected)
    targets = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    unknown_targets = expected - set(targets)
    if unknown_targets:
        raise CheckpointError(f"model has no parameters {_listed(unknown_targets)}")
    missing, unexpected = expected - set(tensors), set(tensors) - expected
    mismatched = [
        f"{shown(k)} (checkpoint {tuple(tensors[k].shape)}, model {tuple(targets[k].shape)})"
        for k in sorted(expected & set(tensors))
        if tuple(tensors[k].shape) != tuple(targets[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(map(shown, missing))}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(map(shown, unexpected))}")
    if mismatched:
        problems.append(f"shape mismatches: {_listed(mismatched)}")
    if problems:
        raise CheckpointError(f"{source} does not fit the model; " + "; ".join(problems))
    with torch.no_grad():
        for name in expected:
            target = targets[name]
            target.copy_(tensors[name].to(device=target.device, dtype=target.dtype))


@dataclass
class Checkpoint:
    """A checkpoint read from disk, in dfdetect's names, before a model exists.

    ``tensors`` are named as files name them, never by the installed library's in-memory
    layout: ``backbone.model.<tower name>`` (the name the tower's own transformers files give it,
    the same under every transformers version; timm's names) and ``head.weight``/``head.bias``.
    With ``whole_backbone`` they hold every backbone weight and the backbone is built without
    downloading weights. Otherwise they hold only the trained tensors and the backbone's
    pretrained weights come from ``config.backbone``. ``onnx`` is the
    graph of an ONNX export (then there are no tensors)."""

    config: DetectorConfig
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    whole_backbone: bool = False
    onnx: Path | None = None
