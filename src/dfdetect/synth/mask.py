"""Blend masks: the face hull, deformed and blurred at random, as SBI and Face X-ray make them.

Every size is a fraction of the face size ``s`` (the square root of the hull's area), so a
48-pixel crop and a 1080p frame get the same mask up to scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskConfig:
    """Random deformation ranges, as fractions of the face size ``s``.

    ``scale``: per-axis resize of the hull about its centroid; ``shift``: translation of the
    hull (up to ``shift * s`` per axis); ``elastic``: largest displacement of the smooth random
    warp (a ``grid`` x ``grid`` field, interpolated); ``morph``: largest erosion or dilation
    kernel; ``blur``: range of the Gaussian kernel that softens the edge.
    """

    scale: tuple[float, float] = (0.9, 1.05)
    shift: float = 0.02
    elastic: float = 0.03
    grid: int = 4
    morph: float = 0.06
    blur: tuple[float, float] = (0.1, 0.3)

    def reach(self, hull: np.ndarray) -> float:
        """How far (pixels) outside ``hull`` a mask made from it can be non-zero."""
        s, radius = face_size(hull), _radius(hull)
        grow = radius * max(self.scale[1] - 1.0, 0.0) + (2**0.5) * (self.shift + self.elastic) * s
        return grow + _kernel(self.morph * s) / 2 + _kernel(self.blur[1] * s) / 2 + 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready mapping."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def face_size(hull: np.ndarray) -> float:
    """The square root of the hull's area (pixels)."""
    return float(np.sqrt(max(cv2.contourArea(hull.astype(np.float32)), 1.0)))


def _radius(hull: np.ndarray) -> float:
    return float(np.linalg.norm(hull - hull.mean(0), axis=1).max())


def _kernel(size: float) -> int:
    """An odd kernel side, at least 1, near ``size``."""
    return 2 * round(size / 2.0) + 1


def blend_mask(
    shape: tuple[int, int], hull: np.ndarray, rng: np.random.Generator, config: MaskConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """A float32 (H, W) mask in [0, 1]: 1 inside the deformed hull, falling smoothly to 0 at
    its edge and exactly 0 beyond ``config.reach(hull)``; and the draws that made it."""
    h, w = shape
    s = face_size(hull)
    centre = hull.mean(0)
    scale = rng.uniform(*config.scale, size=2)
    shift = rng.uniform(-config.shift, config.shift, size=2) * s
    points = (hull - centre) * scale + centre + shift
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1.0)

    amplitude = rng.uniform(0.0, config.elastic) * s
    field = rng.uniform(-1.0, 1.0, size=(config.grid, config.grid, 2)).astype(np.float32)
    field = cv2.resize(field * amplitude, (w, h), interpolation=cv2.INTER_LINEAR)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mask = cv2.remap(mask, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR)

    morph = "erode" if rng.random() < 0.5 else "dilate"
    k = _kernel(rng.uniform(0.0, config.morph) * s)
    if k > 1:
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        mask = (cv2.erode if morph == "erode" else cv2.dilate)(mask, element)

    blur = _kernel(rng.uniform(*config.blur) * s)
    mask = cv2.GaussianBlur(mask, (blur, blur), 0)
    peak = float(mask.max())
    if peak > 0:
        mask = np.clip(mask / peak, 0.0, 1.0)
    ops = {
        "scale": [round(float(v), 4) for v in scale],
        "shift": [round(float(v), 2) for v in shift],
        "elastic": round(float(amplitude), 2),
        morph: k,
        "blur": blur,
    }
    return mask, ops
