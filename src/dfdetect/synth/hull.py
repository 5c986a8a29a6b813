"""The face region a blend covers, from the five landmarks every dfdetect face has.

SBI and Face X-ray take the convex hull of 68/81 dense landmarks (jaw line + forehead). With
only eyes, nose and mouth corners the outline is derived from face proportions instead:

1. A face frame: origin between the eyes, x in eye distances (IOD), y in eye-to-mouth distances
   (EM, ~1.16 IOD). The five points of the ArcFace mean face give their canonical positions.
2. An outline in that frame from adult anthropometric averages (Farkas): face width at the
   cheekbones ~2.15 IOD, jaw width ~1.6 IOD at mouth level, chin ~0.75 IOD below the mouth,
   forehead up to ~1.05 IOD above the eyes (just under the hairline, where the 81-point model's
   forehead points sit).
3. The least-squares affine map taking the canonical five points onto the detected ones (it
   follows roll, scale and the foreshortening of a turned head), applied to the outline; the
   convex hull of the mapped outline is the face region.
"""

from __future__ import annotations

import numpy as np

from dfdetect.faces.presets import ARCFACE_TEMPLATE

HULL_NAME = "five-point-v1"  # recorded in manifests and checkpoints

# Outline in the face frame (x: IOD right of the eye midpoint, y: EM below it), left half and
# centre line; the right half mirrors it. Jaw from ear level to the chin, then the forehead.
_HALF_OUTLINE = (
    (-1.07, -0.10),
    (-1.07, 0.30),
    (-1.00, 0.70),
    (-0.85, 1.05),
    (-0.60, 1.38),
    (-0.30, 1.58),
    (0.00, 1.65),
    (-1.00, -0.45),
    (-0.80, -0.72),
    (-0.45, -0.86),
    (0.00, -0.90),
)


def _canonical_landmarks() -> np.ndarray:
    """The ArcFace mean face's five points in the face frame."""
    points = np.asarray(ARCFACE_TEMPLATE, dtype=np.float64)
    eyes, mouth = points[:2].mean(0), points[3:].mean(0)
    iod = np.linalg.norm(points[1] - points[0])
    em = np.linalg.norm(mouth - eyes)
    return np.stack([(points[:, 0] - eyes[0]) / iod, (points[:, 1] - eyes[1]) / em], axis=1)


CANONICAL = _canonical_landmarks()
OUTLINE = np.array(
    [*_HALF_OUTLINE, *((-x, y) for x, y in _HALF_OUTLINE if x != 0.0)], dtype=np.float64
)


def face_frame(landmarks: np.ndarray) -> np.ndarray:
    """The (2, 3) least-squares affine map from the face frame onto the (5, 2) ``landmarks``
    (left eye, right eye, nose, mouth left, mouth right; pixels)."""
    dst = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    if not np.isfinite(dst).all():
        raise ValueError("landmarks contain NaN or infinite values")
    src = np.hstack([CANONICAL, np.ones((5, 1))])
    solution, *_ = np.linalg.lstsq(src, dst, rcond=None)
    matrix = solution.T
    if abs(np.linalg.det(matrix[:, :2])) < 1e-6:
        raise ValueError("landmarks are degenerate: they collapse to a line or a point")
    return matrix


def face_hull(landmarks: np.ndarray) -> np.ndarray:
    """The face region's convex hull as (N, 2) float32 pixel points, counter-clockwise in image
    coordinates (see the module docstring for how it follows from five landmarks)."""
    import cv2

    matrix = face_frame(landmarks)
    points = OUTLINE @ matrix[:, :2].T + matrix[:, 2]
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
