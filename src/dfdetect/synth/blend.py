"""Pseudo-fakes from real faces.

``self_blend``: Self-Blended Images (Shiohara & Yamasaki, CVPR 2022), implemented from the
paper: two differently augmented copies of one face, the source's face blended into the target
through a deformed, blurred hull mask at a random ratio. ``face_blend``: Face X-ray style (Li et
al., CVPR 2020): another real face, aligned on the target's landmarks and colour-matched,
blended through the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from dfdetect.synth.hull import face_hull
from dfdetect.synth.mask import MaskConfig, blend_mask, face_size
from dfdetect.synth.transforms import colour_frequency, resize_translate

RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's blend ratios, drawn uniformly


@dataclass
class SynthResult:
    """A pseudo-fake (uint8 RGB), the uint8 blend weight used per pixel (mask x ratio, 0 where
    the target shows through unchanged), the ratio and the random draws that made it."""

    image: np.ndarray
    mask: np.ndarray
    ratio: float
    ops: dict[str, Any] = field(default_factory=dict)


def blend(source: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``source * w + target * (1 - w)`` with ``w = weight / 255`` (uint8 (H, W)); pixels where
    ``weight`` is 0 are the target's exactly."""
    w = weight.astype(np.float32)[..., None] / 255.0
    t = target.astype(np.float32)
    out = np.clip(np.round(t + (source.astype(np.float32) - t) * w), 0, 255).astype(np.uint8)
    return np.where(weight[..., None] == 0, target, out)


def _weight(
    shape: tuple[int, int], hull: np.ndarray, rng: np.random.Generator, config: MaskConfig
) -> tuple[np.ndarray, float, dict[str, Any]]:
    mask, ops = blend_mask(shape, hull, rng, config)
    ratio = float(RATIOS[int(rng.integers(len(RATIOS)))])
    return np.round(mask * ratio * 255.0).astype(np.uint8), ratio, ops


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    config: MaskConfig | None = None,
) -> SynthResult:
    """An SBI of ``image`` (uint8 RGB) from its five ``landmarks`` (pixels). One copy, chosen at
    random, gets the colour/frequency transforms; the source also a small resize and shift."""
    config = config or MaskConfig()
    hull = face_hull(landmarks)
    copies = [image, image]
    augmented = int(rng.integers(2))  # 0: source, 1: target
    copies[augmented], transforms = colour_frequency(image, rng)
    source, moved = resize_translate(copies[0], hull.mean(0), face_size(hull), rng)
    weight, ratio, mask_ops = _weight(image.shape[:2], hull, rng, config)
    ops = {
        "augmented": ("source", "target")[augmented],
        "transforms": [*transforms, moved],
        "mask": mask_ops,
    }
    return SynthResult(blend(source, copies[1], weight), weight, ratio, ops)


def match_colour(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``source`` with each channel's mean and standard deviation inside ``region`` (bool
    (H, W)) moved to the target's there."""
    s, t = source.astype(np.float32), target.astype(np.float32)
    s_mean, s_std = s[region].mean(0), s[region].std(0) + 1e-3
    t_mean, t_std = t[region].mean(0), t[region].std(0)
    return np.clip(np.round((s - s_mean) / s_std * t_std + t_mean), 0, 255).astype(np.uint8)


def face_blend(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    rng: np.random.Generator,
    config: MaskConfig | None = None,
) -> SynthResult:
    """``donor``'s face aligned onto ``target``'s landmarks (5-point similarity), colour-matched
    inside the target's hull and blended into ``target`` through a random mask."""
    config = config or MaskConfig()
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(donor_landmarks, np.float32), np.asarray(target_landmarks, np.float32)
    )
    if matrix is None:
        raise ValueError("donor landmarks are degenerate: no similarity maps them on the target")
    h, w = target.shape[:2]
    warped = cv2.warpAffine(donor, matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    hull = face_hull(target_landmarks)
    region = np.zeros((h, w), np.uint8)
    cv2.fillPoly(region, [np.round(hull).astype(np.int32)], 1)
    if not region.any():
        raise ValueError("the target's face hull lies outside the image")
    source = match_colour(warped, target, region.astype(bool))
    weight, ratio, mask_ops = _weight((h, w), hull, rng, config)
    return SynthResult(blend(source, target, weight), weight, ratio, {"mask": mask_ops})
