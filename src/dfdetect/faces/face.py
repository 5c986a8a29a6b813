"""What a face detector returns, and the interface every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Longer image side (pixels) above which detectors work on a downscaled copy: 1920 leaves every
# frame up to 1080p (FF++, DFD, Celeb-DF, most uploads) detected exactly as at full resolution
# and brings a 12 MP photo to 1920x1440 (docs/faces.md, "Large images").
DEFAULT_MAX_SIDE = 1920


@dataclass(frozen=True)
class Face:
    """One detected face in image pixels.

    ``box``: float32 (4,) x1, y1, x2, y2; ``score``: detector confidence in [0, 1];
    ``landmarks``: float32 (5, 2) left eye, right eye, nose, mouth left, mouth right
    (left/right as seen in the image).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


class FaceDetector(Protocol):
    """A face-detection backend. ``detect`` takes RGB uint8 (H, W, 3) images and returns, per
    image, the faces above the confidence threshold and minimum size, highest score first, in
    the image's own pixels (also when a backend detects on a downscaled copy)."""

    name: str
    min_face_size: int
    threshold: float

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]: ...
