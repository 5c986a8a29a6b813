"""Batched preprocessing on the model's device: uint8 faces -> resized, centre-cropped,
normalised float tensors (matches the transformers image processors within 1/255)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dfdetect.model.config import PreprocessConfig

MAX_SIDE = 8192  # larger inputs are refused: faces are crops, not posters


def to_uint8_hwc(face: Any, index: int = 0) -> torch.Tensor:
    """One face (PIL image, HxWx3 / HxW uint8 array, uint8 tensor HxWx3 or 3xHxW) as a uint8
    HxWx3 RGB tensor on the CPU. Bad inputs raise ValueError naming their position."""
    if hasattr(face, "convert") and hasattr(face, "size"):  # PIL image
        face = np.array(face.convert("RGB"))
    if isinstance(face, np.ndarray):
        writable = face.flags.writeable and face.flags.c_contiguous
        face = torch.from_numpy(face if writable else np.array(face))
    if not isinstance(face, torch.Tensor):
        raise ValueError(
            f"face {index}: expected a PIL image, numpy array or tensor, got {type(face).__name__}"
        )
    if face.dtype != torch.uint8:
        raise ValueError(f"face {index}: expected uint8 pixels, got {face.dtype}")
    if face.ndim == 2:
        face = face.unsqueeze(-1).expand(-1, -1, 3)
    elif face.ndim == 3 and face.shape[0] in (3, 4) and face.shape[-1] not in (3, 4):
        face = face.permute(1, 2, 0)
    if face.ndim != 3 or face.shape[-1] not in (1, 3, 4):
        raise ValueError(f"face {index}: expected HxWx3 pixels, got shape {tuple(face.shape)}")
    face = face[..., :3] if face.shape[-1] != 1 else face.expand(-1, -1, 3)
    h, w = face.shape[:2]
    if min(h, w) < 1 or max(h, w) > MAX_SIDE:
        raise ValueError(f"face {index}: size {w}x{h} is outside 1..{MAX_SIDE} pixels")
    return face


def resized_shape(height: int, width: int, config: PreprocessConfig) -> tuple[int, int]:
    """Output (height, width) of the resize step, rounding as transformers does."""
    if config.resize_mode == "exact":
        return config.crop_size, config.crop_size
    short, long = min(height, width), max(height, width)
    new_long = int(config.resize * long / short)
    return (config.resize, new_long) if height <= width else (new_long, config.resize)


def preprocess_batch(
    images: torch.Tensor, config: PreprocessConfig, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(B, H, W, 3) uint8 on any device -> (B, 3, S, S) normalised pixels in ``dtype``."""
    x = images.permute(0, 3, 1, 2).float()
    size = resized_shape(x.shape[2], x.shape[3], config)
    # Two separable passes, clipped in between and rounded at the end, as Pillow resamples
    # (the transformers processors resize through it). Pillow >= 13 runs the height pass first
    # when the height shrinks by more than twice as many pixels as the width.
    h, w = x.shape[2:]
    height_first = h - size[0] > max(0, 2 * (w - size[1]))
    for pass_size in [(size[0], w), size] if height_first else [(h, size[1]), size]:
        if pass_size != tuple(x.shape[2:]):
            x = F.interpolate(
                x, size=pass_size, mode=config.interpolation, align_corners=False, antialias=True
            ).clamp_(0, 255)
    x = x.round_()
    s = config.crop_size
    top, left = (x.shape[2] - s) // 2, (x.shape[3] - s) // 2
    if top < 0 or left < 0:  # smaller than the crop: pad with zeros as transformers does
        pad_h, pad_w = max(s - x.shape[2], 0), max(s - x.shape[3], 0)
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        top, left = (x.shape[2] - s) // 2, (x.shape[3] - s) // 2
    x = x[:, :, top : top + s, left : left + s]
    mean = torch.tensor(config.mean, device=x.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(config.std, device=x.device).view(1, 3, 1, 1) * 255.0
    return ((x - mean) / std).to(dtype)


def preprocess_faces(
    faces: Sequence[Any] | np.ndarray | torch.Tensor,
    config: PreprocessConfig,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Faces of any sizes -> (N, 3, S, S) on ``device``; same-size faces go through as one batch.

    ``faces`` may also be one (N, H, W, 3) uint8 array or tensor.
    """
    if isinstance(faces, (np.ndarray, torch.Tensor)) and faces.ndim == 4:
        writable = not isinstance(faces, np.ndarray) or faces.flags.writeable
        batch = torch.as_tensor(faces if writable else np.array(faces))
        if batch.dtype != torch.uint8 or batch.shape[-1] != 3:
            raise ValueError(
                f"expected an (N, H, W, 3) uint8 batch, got {tuple(batch.shape)} {batch.dtype}"
            )
        return preprocess_batch(batch.to(device, non_blocking=True), config, dtype)
    tensors = [to_uint8_hwc(face, i) for i, face in enumerate(faces)]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.shape[0], t.shape[1]), []).append(i)
    if len(groups) == 1:  # the usual case: crops of one size
        return preprocess_batch(torch.stack(tensors).to(device, non_blocking=True), config, dtype)
    s = config.crop_size
    out = torch.empty((len(tensors), 3, s, s), device=device, dtype=dtype)
    for indices in groups.values():
        batch = torch.stack([tensors[i] for i in indices]).to(device, non_blocking=True)
        out[torch.tensor(indices, device=device)] = preprocess_batch(batch, config, dtype)
    return out
