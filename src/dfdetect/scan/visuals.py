"""Report images for a scanned file: a thumbnail with the faces boxed, and per person a
heatmap of its highest-scoring face, on the crop and warped back onto the frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dfdetect.explain import encode_image, heatmaps, overlay, warp_to_frame
from dfdetect.scan.prepare import Prepared
from dfdetect.scan.results import FileResult, Visuals

FAKE_RGB = (220, 38, 38)
REAL_RGB = (22, 163, 74)


def label_colour(label: str | None) -> tuple[int, int, int]:
    """Verdict colour shared by the thumbnails and the HTML report."""
    return FAKE_RGB if label == "fake" else REAL_RGB


def build_visuals(
    prepared: Prepared, result: FileResult, explainer, max_heatmaps: int = 8
) -> Visuals | None:
    """Thumbnail and heatmaps of the ``max_heatmaps`` most suspicious persons; ``None`` when
    no frame was kept."""
    if not prepared.thumbnails:
        return None
    scale = prepared.thumb_scale
    if result.faces:
        best = max(range(len(result.faces)), key=lambda k: result.faces[k].prob)
        frame_index = result.faces[best].frame_index
    else:
        frame_index = next(iter(prepared.thumbnails))
    # result boxes are in the file's pixels; the thumbnail is of the decoded frame
    thumb = draw_faces(
        prepared.thumbnails[frame_index], result, frame_index, scale * prepared.scale
    )
    visuals = Visuals(thumbnail=thumb)
    top: dict[int, int] = {}
    for k, face in enumerate(result.faces):
        if face.person not in top or face.prob > result.faces[top[face.person]].prob:
            top[face.person] = k
    if not top:
        return visuals
    people = sorted(top, key=lambda pid: -result.faces[top[pid]].prob)[:max_heatmaps]
    maps = heatmaps(explainer, [prepared.faces[top[p]].crop for p in people])
    for pid, heat in zip(people, maps, strict=True):
        face = prepared.faces[top[pid]]
        frame = prepared.thumbnails[face.frame_index]
        matrix = face.matrix.astype(np.float64).copy()
        matrix[:, :2] /= scale  # the alignment was fitted on the full-size frame
        visuals.heatmaps[pid] = overlay(frame, warp_to_frame(heat, matrix, frame.shape))
        visuals.crops[pid] = overlay(face.crop, heat)
    return visuals


def draw_faces(frame: np.ndarray, result: FileResult, frame_index: int, scale: float) -> np.ndarray:
    """A copy of ``frame`` with that frame's faces boxed in their verdict colour (result boxes
    times ``scale``), labelled with person id and probability where a label fits without
    covering another (the most suspicious faces are labelled first)."""
    out = frame.copy()
    thickness = max(2, round(max(out.shape[:2]) / 400))
    font_scale = 0.35 * thickness
    faces = sorted((f for f in result.faces if f.frame_index == frame_index), key=lambda f: -f.prob)
    boxes = [tuple(round(v * scale) for v in face.box) for face in faces]
    texts = [f"P{face.person} {face.prob:.2f}" for face in faces]
    sizes = []
    for text in texts:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        sizes.append((tw + 4, th + base + 2))
    for face, (x1, y1, x2, y2) in zip(faces, boxes, strict=True):
        cv2.rectangle(out, (x1, y1), (x2, y2), label_colour(face.label), thickness)
    for face, text, spot in zip(faces, texts, label_spots(boxes, sizes, out.shape), strict=True):
        if spot is None:
            continue
        lx1, ly1, lx2, ly2 = spot
        cv2.rectangle(out, (lx1, ly1), (lx2, ly2), label_colour(face.label), -1)
        cv2.putText(
            out, text, (lx1 + 2, ly2 - 3), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
            (255, 255, 255), 1, cv2.LINE_AA,
        )  # fmt: skip
    return out


def label_spots(
    boxes: list[tuple[int, ...]], sizes: list[tuple[int, int]], shape: tuple[int, ...]
) -> list[tuple[int, int, int, int] | None]:
    """Where each box's label (``sizes``: width, height) goes, in order: above the box, below
    it or inside its top, the first that overlaps no label placed before; None when none
    fits (in crowds: the box stays, unlabelled)."""
    height, width = shape[:2]
    placed: list[tuple[int, int, int, int]] = []
    spots: list[tuple[int, int, int, int] | None] = []
    for (x1, y1, _x2, y2), (w, h) in zip(boxes, sizes, strict=True):
        left = min(max(0, x1), max(0, width - w))
        spot = None
        for top in (y1 - h, y2, y1):
            top = min(max(0, top), max(0, height - h))
            rect = (left, top, left + w, top + h)
            if not any(_overlap(rect, other) for other in placed):
                spot = rect
                break
        if spot is not None:
            placed.append(spot)
        spots.append(spot)
    return spots


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def encode_visuals(visuals: Visuals | None) -> dict[str, bytes]:
    """The images of ``visuals`` encoded by name: ``thumbnail`` (JPEG), ``heatmap/<person>``
    and ``crop/<person>`` (PNG), as stored and put in reports."""
    if visuals is None:
        return {}
    images = {"thumbnail": encode_image(visuals.thumbnail, ".jpg")}
    for pid, image in visuals.heatmaps.items():
        images[f"heatmap/{pid}"] = encode_image(image, ".png")
    for pid, image in visuals.crops.items():
        images[f"crop/{pid}"] = encode_image(image, ".png")
    return images


def save_heatmaps(images: dict[str, bytes], folder: Path) -> None:
    """Write the ``heatmap/<person>`` and ``crop/<person>`` images of one file (as stored by
    :func:`encode_visuals`) into ``folder`` as ``person<id>_<kind>.png``."""
    for name, data in images.items():
        if name != "thumbnail":
            kind, pid = name.split("/")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"person{pid}_{kind}.png").write_bytes(data)
