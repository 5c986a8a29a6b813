"""Face choice per frame: largest, all, or the face a manipulation mask points at."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.faces import Face, select_faces
from dfdetect.faces.select import mask_from_frame, mask_overlap


def _face(x1: float, y1: float, x2: float, y2: float, score: float = 0.99) -> Face:
    return Face(np.array([x1, y1, x2, y2], np.float32), score, np.zeros((5, 2), np.float32))


FACES = [_face(0, 0, 50, 50, 0.999), _face(100, 0, 200, 100, 0.95), _face(300, 300, 320, 320)]


def test_largest_and_all() -> None:
    chosen, how = select_faces(FACES, "largest")
    assert chosen == [FACES[1]] and how == "largest"
    chosen, how = select_faces(FACES, "all")
    assert chosen == FACES and how == "all"
    assert select_faces([], "largest") == ([], "largest")


def test_mask_picks_the_manipulated_face_not_the_largest() -> None:
    mask = np.zeros((400, 400), bool)
    mask[10:40, 10:40] = True  # the small face at the top left was swapped
    mask[90:95, 95:110] = True  # a sliver of mask touching the big face's box
    assert mask_overlap(FACES[0], mask) == 900
    chosen, how = select_faces(FACES, "mask", mask)
    assert chosen == [FACES[0]] and how == "mask"


def test_blank_mask_falls_back_to_largest_and_says_so() -> None:
    chosen, how = select_faces(FACES, "mask", np.zeros((400, 400), bool))
    assert chosen == [FACES[1]] and how == "largest"
    with pytest.raises(ValueError, match="needs a mask"):
        select_faces(FACES, "mask")
    with pytest.raises(ValueError, match="unknown face choice"):
        select_faces(FACES, "first")  # type: ignore[arg-type]


def test_mask_from_compressed_frame_ignores_noise() -> None:
    frame = np.random.default_rng(0).integers(0, 30, (20, 20, 3)).astype(np.uint8)
    frame[5:10, 5:10] = 240
    mask = mask_from_frame(frame)
    assert mask.sum() == 25 and mask[5:10, 5:10].all()


def test_boxes_partly_outside_the_mask_frame() -> None:
    mask = np.ones((10, 10), bool)
    assert mask_overlap(_face(-5, -5, 5, 5), mask) == 25
    assert mask_overlap(_face(20, 20, 30, 30), mask) == 0
