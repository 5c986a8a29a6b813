"""Which detected faces of a frame to keep: the largest, all, or the one a manipulation mask
points at."""

from __future__ import annotations

from typing import Literal

import numpy as np

from dfdetect.faces.face import Face

FaceChoice = Literal["largest", "all", "mask"]
FACE_CHOICES: tuple[str, ...] = ("largest", "all", "mask")


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box area (the first on ties), or None."""
    return max(faces, key=lambda face: face.area, default=None)


def mask_overlap(face: Face, mask: np.ndarray) -> int:
    """Number of mask pixels inside the face's box."""
    height, width = mask.shape[:2]
    x1, y1 = (max(0, int(np.floor(v))) for v in face.box[:2])
    x2, y2 = int(np.ceil(min(face.box[2], width))), int(np.ceil(min(face.box[3], height)))
    if x2 <= x1 or y2 <= y1:
        return 0
    return int(np.count_nonzero(mask[y1:y2, x1:x2]))


def masked_face(faces: list[Face], mask: np.ndarray) -> Face | None:
    """The face whose box covers most pixels of a boolean (H, W) manipulation mask, or None
    when the mask touches no face box."""
    overlaps = [mask_overlap(face, mask) for face in faces]
    if not overlaps or max(overlaps) == 0:
        return None
    return faces[int(np.argmax(overlaps))]


def mask_from_frame(frame: np.ndarray, level: int = 127) -> np.ndarray:
    """Boolean mask from a mask-video frame (white = manipulated; compression noise ignored)."""
    grey = frame.max(axis=2) if frame.ndim == 3 else frame
    return grey > level


def select_faces(
    faces: list[Face], choice: FaceChoice = "largest", mask: np.ndarray | None = None
) -> tuple[list[Face], str]:
    """The faces to keep and how they were chosen (``largest``, ``all`` or ``mask``).

    ``mask`` picks the face the mask overlaps most; when the mask is empty or touches no face
    box (FF++ masks are blank on some frames), the largest face is kept and the returned
    method says ``largest`` so the manifest records it.
    """
    if choice == "all":
        return list(faces), "all"
    if choice == "mask":
        if mask is None:
            raise ValueError("face choice 'mask' needs a mask")
        picked = masked_face(faces, mask)
        if picked is not None:
            return [picked], "mask"
    elif choice != "largest":
        raise ValueError(f"unknown face choice {choice!r}; known: {list(FACE_CHOICES)}")
    largest = largest_face(faces)
    return ([largest] if largest is not None else []), "largest"
