"""Face choice per frame: largest, all, or the face a manipulation mask points at; and
`crop_faces`, which detects, chooses and aligns."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.faces import Face, crop_faces, get_preset, select_faces
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


class _FixedDetector:
    """Returns the same faces for every image."""

    name, min_face_size, threshold = "fixed", 12, 0.5

    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces

    def detect(self, images):
        return [list(self.faces) for _ in images]


def _aligned_face(x1: float, y1: float, x2: float, y2: float) -> Face:
    """A face whose landmarks sit where the preset wants them inside its box."""
    landmarks = get_preset("gend").destination(x2 - x1) + np.float32([x1, y1])
    return Face(np.array([x1, y1, x2, y2], np.float32), 0.99, landmarks.astype(np.float32))


def test_crop_faces_min_size_max_faces_and_unaligned_faces() -> None:
    preset = get_preset("gend", size=64)
    small = _aligned_face(0, 0, 50, 50)
    big = _aligned_face(100, 0, 200, 100)
    tiny = _aligned_face(300, 300, 320, 320)
    thin = _aligned_face(100, 400, 620, 425)  # the largest box, but only 25 px high
    degenerate = Face(np.array([0, 200, 60, 260], np.float32), 0.9, np.full((5, 2), 10.0))
    faces = [small, big, tiny, thin, degenerate]
    detector = _FixedDetector(faces)
    images = [np.zeros((480, 640, 3), np.uint8)] * 2

    # defaults: every face in detection order, degenerate landmarks left out
    (crops, _) = crop_faces(images, detector, preset, "all")
    assert [c.face for c in crops] == [small, big, tiny, thin]
    assert all(c.aligned.crop.shape == (64, 64, 3) and c.selected_by == "all" for c in crops)

    unaligned: list[tuple[int, Face, str]] = []
    found = crop_faces(
        images, detector, preset, "all", min_size=30, max_faces=2,
        on_unaligned=lambda i, face, exc: unaligned.append((i, face, str(exc))),
    )  # fmt: skip
    # tiny and thin are below 30 px; of the rest the two largest (big, then degenerate) are
    # kept, and degenerate is reported instead of cropped
    assert [[c.face for c in crops] for crops in found] == [[big], [big]]
    assert [(i, face) for i, face, _ in unaligned] == [(0, degenerate), (1, degenerate)]
    assert "degenerate" in unaligned[0][2]

    # the size limit applies before choosing: the thin box is not "the largest face"
    ((largest,),) = crop_faces(images[:1], detector, preset, "largest", min_size=30)
    assert largest.face is big and largest.selected_by == "largest"
    ((widest,),) = crop_faces(images[:1], detector, preset, "largest")
    assert widest.face is thin
