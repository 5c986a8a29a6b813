"""Similarity alignment of a face onto a crop preset from its five landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfdetect.faces.presets import CropPreset

_REFERENCE_SIDE = 256.0  # the transform is estimated at this side, then rescaled


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
    crop side: ``preset.size``, or for native size the side at which the face keeps its scale."""
    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    if not np.isfinite(src).all():
        raise ValueError("landmarks contain NaN or infinite values")
    dst = preset.destination(_REFERENCE_SIDE)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None or not np.isfinite(matrix).all():
        raise ValueError("landmarks are degenerate: no similarity transform fits them")
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale <= 1e-6:
        raise ValueError("landmarks are degenerate: they collapse to a point")
    side = preset.size if preset.size is not None else max(8, round(_REFERENCE_SIDE / scale))
    return matrix * (side / _REFERENCE_SIDE), side


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
