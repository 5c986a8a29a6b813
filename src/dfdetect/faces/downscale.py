"""Detection on a downscaled copy of a large image (``max_side``), shared by the detector
backends: the factor, the copy, and the faces mapped back to the image's own pixels."""

from __future__ import annotations

import cv2
import numpy as np

from dfdetect.faces.face import Face


def downscale_factor(shape: tuple[int, ...], max_side: int | None) -> float:
    """The factor (<= 1) that brings an image's longer side down to ``max_side``."""
    longer = max(shape[:2])
    return 1.0 if max_side is None or longer <= max_side else max_side / longer


def downscale(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` downscaled by ``scale`` with area averaging (no aliasing), sides rounded."""
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def to_image_pixels(
    faces: list[Face], detected: tuple[int, ...], original: tuple[int, ...]
) -> list[Face]:
    """Map faces found on a resized copy (shape ``detected``) back to ``original`` pixels."""
    if detected[:2] == original[:2]:
        return faces
    # per-axis factors: the copy's sides are rounded to whole pixels
    factor = np.array([original[1] / detected[1], original[0] / detected[0]], np.float32)
    return [
        Face(
            (face.box.reshape(2, 2) * factor).reshape(4),
            face.score,
            (face.landmarks * factor).astype(np.float32),
        )
        for face in faces
    ]
