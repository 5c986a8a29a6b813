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
    thumb = draw_faces(prepared.thumbnails[frame_index], result, frame_index, scale)
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
    """A copy of ``frame`` with that frame's faces boxed in their verdict colour, labelled
    with person id and probability."""
    out = frame.copy()
    thickness = max(2, round(max(out.shape[:2]) / 400))
    font_scale = 0.35 * thickness
    for face in result.faces:
        if face.frame_index != frame_index:
            continue
        x1, y1, x2, y2 = (round(v * scale) for v in face.box)
        colour = label_colour(face.label)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"P{face.person} {face.prob:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(
            out, text, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
            (255, 255, 255), 1, cv2.LINE_AA,
        )  # fmt: skip
    return out


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
