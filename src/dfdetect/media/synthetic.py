"""Generated media with known content, for tests, benchmarks and demos: faces pasted into
frames at a known similarity transform, and videos written with PyAV."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def paste_face(
    canvas: np.ndarray,
    face: np.ndarray,
    *,
    scale: float = 1.0,
    angle: float = 0.0,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Paste ``face`` (S x S x 3) into ``canvas`` in place, scaled, rotated ``angle`` degrees
    counterclockwise about its centre and centred at ``center`` (canvas centre by default).
    Returns the (2, 3) matrix mapping face pixels to canvas pixels."""
    height, width = canvas.shape[:2]
    side = face.shape[0]
    cx, cy = center if center is not None else (width / 2, height / 2)
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    matrix[:, 2] += (cx - side / 2, cy - side / 2)
    warped = cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(
        np.full(face.shape[:2], 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST
    )
    canvas[inside > 0] = warped[inside > 0]
    return matrix


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    fps: float = 25.0,
    codec: str = "libx264",
    times: Sequence[float] | None = None,
    rotation: int = 0,
    gop: int = 12,
) -> Path:
    """Encode RGB uint8 frames (even width and height) with PyAV.

    ``times`` (seconds, increasing) gives each frame's timestamp for a variable frame rate;
    ``rotation`` (degrees counterclockwise) is stored as display-matrix metadata, as phones do.
    """
    path = Path(path)
    time_base = Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            if i == 0:
                stream.height, stream.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = round((times[i] if times is not None else i / fps) * 1000)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
