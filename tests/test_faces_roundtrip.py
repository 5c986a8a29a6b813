"""Detection + alignment gives back the original crop: a shared sample face is pasted into a
larger frame at a known scale, rotation and position, then detected and aligned again.

Checked in two parts. (1) Pixels: the crop is exactly the original seen through the recovered
sample->crop similarity R (mean abs difference < 4 grey levels, which allows for resampling
twice; a 5-degree error in R gives 8-18). (2) Geometry: R is close to the identity.

Tolerance on R. The samples were aligned by the authors with their own detector (not MTCNN); MTCNN
puts the landmarks of the same face a few pixels elsewhere (measured over all 32 samples:
3.9 px mean, the left eye 5 px lower, i.e. a 3.2 degree tilt, in the 256 crop where the eyes
are 63 px apart). So R may hold that tilt, up to 9 % scale (measured on the Celeb-DF sample),
and move the template points by up to 0.15 eye distance (10 px). Between two placements of
the same face only MTCNN's own landmark noise remains (< 5 px). Swapped landmarks, an
inverted transform, or a lost rotation or scale miss these bounds by tens of pixels or degrees.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dfdetect.faces import align_face, create_face_detector, get_preset
from dfdetect.media import load_image
from dfdetect.media.synthetic import paste_face

PLACEMENTS = [  # scale, degrees counterclockwise, centre in a 960x540 frame
    (1.0, 0.0, (480, 270)),
    (1.5, -20.0, (600, 280)),
    (0.7, 15.0, (250, 200)),
    (0.45, -5.0, (800, 420)),
]
MAX_PIXEL_ERROR = 4.0  # mean abs grey levels
MAX_POINT_SHIFT = 10.0  # px in the 256 crop
MAX_ROTATION = 7.0  # degrees
MAX_SCALE_ERROR = 0.12
MAX_SHIFT_BETWEEN_PLACEMENTS = 5.0  # px in the 256 crop
CENTRE = slice(48, 208)  # the face, away from the pasted square's edges


def _as3x3(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0, 0, 1]])


def _moved(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:2, :2].T + transform[:2, 2]


@pytest.mark.parametrize("which", ["FF/real/000/000.png", "CDFv2/YouTube-real/00000/000.png"])
def test_detect_and_align_give_back_the_original_crop(samples_dir: Path, which: str) -> None:
    original = load_image(samples_dir / which)
    preset = get_preset("gend")
    frames, pastes = [], []
    for scale, angle, centre in PLACEMENTS:
        frame = np.full((540, 960, 3), 100, np.uint8)
        pastes.append(paste_face(frame, original, scale=scale, angle=angle, center=centre))
        frames.append(frame)
    detections = create_face_detector("mtcnn", device="cpu").detect(frames)
    points = preset.destination(256)
    recovered = []
    for frame, paste, found in zip(frames, pastes, detections, strict=True):
        assert len(found) == 1
        aligned = align_face(frame, found[0].landmarks, preset)
        sample_to_crop = _as3x3(aligned.matrix) @ _as3x3(paste)
        recovered.append(sample_to_crop)
        expected = cv2.warpAffine(original, sample_to_crop[:2], (256, 256), flags=cv2.INTER_LINEAR)
        error = np.abs(aligned.crop[CENTRE, CENTRE].astype(int) - expected[CENTRE, CENTRE]).mean()
        assert error < MAX_PIXEL_ERROR
        rotation = np.degrees(np.arctan2(sample_to_crop[1, 0], sample_to_crop[0, 0]))
        scale = np.hypot(sample_to_crop[0, 0], sample_to_crop[1, 0])
        assert abs(rotation) < MAX_ROTATION
        assert abs(scale - 1) < MAX_SCALE_ERROR
        assert np.abs(_moved(sample_to_crop, points) - points).max() < MAX_POINT_SHIFT
    for transform in recovered[1:]:  # every placement gives the same crop
        shift = np.abs(_moved(transform, points) - _moved(recovered[0], points)).max()
        assert shift < MAX_SHIFT_BETWEEN_PLACEMENTS
