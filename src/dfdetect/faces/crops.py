"""Detect, choose and align faces over a batch of frames: the step extraction and scanning
share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dfdetect.faces.align import AlignedFace, align_face
from dfdetect.faces.face import Face, FaceDetector
from dfdetect.faces.presets import CropPreset
from dfdetect.faces.select import FaceChoice, select_faces


@dataclass(frozen=True)
class FaceCrop:
    """A chosen face, its aligned crop, and how it was chosen (``largest``/``all``/``mask``)."""

    face: Face
    aligned: AlignedFace
    selected_by: str


def crop_faces(
    images: Sequence[np.ndarray],
    detector: FaceDetector,
    preset: CropPreset,
    choice: FaceChoice = "largest",
    masks: Sequence[np.ndarray | None] | None = None,
    *,
    min_size: float = 0.0,
    max_faces: int | None = None,
    on_unaligned: Callable[[int, Face, ValueError], None] | None = None,
    on_capped: Callable[[int, int], None] | None = None,
) -> list[list[FaceCrop]]:
    """For each RGB uint8 image, the aligned crops of the chosen faces (empty: no face).

    ``masks`` (boolean (H, W) per image, or None) is used with ``choice="mask"``; a frame
    without a mask falls back to the largest face (``selected_by`` says so). Faces whose box
    is narrower or lower than ``min_size`` pixels are ignored before choosing; ``max_faces``
    keeps the largest that many of the chosen faces, largest first (``on_capped`` gets the
    image index and how many it left out, when it left some). Faces whose landmarks
    are degenerate (no similarity fits them) are left out, each passed to ``on_unaligned``
    (image index, face, the error) when given.
    """
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"{len(masks)} masks for {len(images)} images")
    results: list[list[FaceCrop]] = []
    for i, (image, faces) in enumerate(zip(images, detector.detect(images), strict=True)):
        mask = masks[i] if masks is not None else None
        effective = "largest" if choice == "mask" and mask is None else choice
        if min_size > 0:
            faces = [face for face in faces if min(face.width, face.height) >= min_size]
        chosen, selected_by = select_faces(faces, effective, mask)
        if max_faces is not None:
            if len(chosen) > max_faces and on_capped is not None:
                on_capped(i, len(chosen) - max_faces)
            chosen = sorted(chosen, key=lambda face: -face.area)[:max_faces]
        crops = []
        for face in chosen:
            try:
                crops.append(FaceCrop(face, align_face(image, face.landmarks, preset), selected_by))
            except ValueError as exc:
                if on_unaligned is not None:
                    on_unaligned(i, face, exc)
        results.append(crops)
    return results
