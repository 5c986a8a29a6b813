"""Similarity alignment of a face onto a crop preset from its five landmarks."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from dfdetect.faces.presets import CropPreset

_REFERENCE_SIDE = 256.0  # the transform is estimated at this side, then rescaled
_MIN_SIDE = 8  # pixels: the smallest native-size crop


@dataclass(frozen=True)
class AlignedFace:
    """An aligned crop and the (2, 3) affine ``matrix`` mapping image pixels to crop pixels."""

    crop: np.ndarray
    matrix: np.ndarray

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(np.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) image points into crop coordinates."""
        points = np.asarray(points, dtype=np.float64)
        return (points @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)


def similarity_transform(landmarks: np.ndarray, preset: CropPreset) -> tuple[np.ndarray, int]:
    """The (2, 3) image->crop similarity (OpenCV ``estimateAffinePartial2D``, LMEDS) and the
    crop side: ``preset.size``, or for native size :func:`native_side`'s. Fitted at the crop's
    side, as GenD fits it (the same matrix bit for bit, for the ``gend`` preset), except for
    ``lmeds`` native sizes, which are read from a fit at a reference side."""
    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    if not np.isfinite(src).all():
        raise ValueError("landmarks contain NaN or infinite values")
    if preset.size is not None or preset.size_rule == "gend":
        side = preset.size if preset.size is not None else native_side(src, preset)
        return _fit(src, preset.destination(side)), side
    matrix = _fit(src, preset.destination(_REFERENCE_SIDE))
    side = max(_MIN_SIDE, round(_REFERENCE_SIDE / _scale(matrix)))
    return matrix * (side / _REFERENCE_SIDE), side


def native_side(landmarks: np.ndarray, preset: CropPreset) -> int:
    """The side of a native-size crop, by ``preset.size_rule``.

    ``"lmeds"``: the side at which the LMEDS similarity keeps the face's scale. ``"gend"``:
    GenD's rule (its ``--target_size none``): the mean, over the 10 pairs of the five points,
    of (detected distance / template distance), times the margin, rounded half to even, in
    float32 as GenD computes it. At least 8 pixels either way."""
    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    if preset.size_rule == "lmeds":
        return similarity_transform(src, replace(preset, size=None))[1]
    first, second = np.triu_indices(5, k=1)
    detected = np.linalg.norm(src[first] - src[second], axis=-1)
    template = np.linalg.norm(preset.template[first] - preset.template[second], axis=-1)
    return max(_MIN_SIDE, int(np.round(np.mean(detected / template) * preset.margin)))


def _fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The LMEDS similarity taking ``src`` onto ``dst``; ValueError when none fits."""
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None or not np.isfinite(matrix).all():
        raise ValueError("landmarks are degenerate: no similarity transform fits them")
    if _scale(matrix) <= 1e-6:
        raise ValueError("landmarks are degenerate: they collapse to a point")
    return matrix


def _scale(matrix: np.ndarray) -> float:
    return float(np.hypot(matrix[0, 0], matrix[1, 0]))


def align_face(image: np.ndarray, landmarks: np.ndarray, preset: CropPreset) -> AlignedFace:
    """Warp ``image`` (H, W, 3 uint8) so the five ``landmarks`` (left eye, right eye, nose,
    mouth left, mouth right; pixels) land on the preset's template, with its margin and size.
    Pixels outside the image are black. Raises ValueError for degenerate landmarks."""
    matrix, side = similarity_transform(landmarks, preset)
    crop = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (side, side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return AlignedFace(crop=crop, matrix=matrix.astype(np.float32))
