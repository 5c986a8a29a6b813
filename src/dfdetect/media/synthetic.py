"""Generated media with known content, for tests, benchmarks and demos: faces pasted into
frames at a known similarity transform, videos written with PyAV, and videos and images of
faces pasted into a textured background."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB uint8 background (no face in it), the same for the same seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(big).copy()


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
    bit_rate: int | None = None,
    codec_options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB uint8 frames (even width and height) with PyAV.

    ``times`` (seconds, increasing) gives each frame's timestamp for a variable frame rate;
    ``rotation`` (degrees counterclockwise) is stored as display-matrix metadata, as phones do.
    ``bit_rate`` (bits/s; default: the codec's), ``codec_options`` (e.g. x264's
    ``{"preset": "veryfast"}``) and ``container_options`` (e.g. ``{"movflags": "faststart"}``)
    go to FFmpeg as given.
    """
    path = Path(path)
    time_base = Fraction(1, 1000)
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(
            codec, rate=Fraction(fps).limit_denominator(1000), options=codec_options or {}
        )
        stream.pix_fmt = "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
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


def face_frames(
    faces: Sequence[np.ndarray],
    n_frames: int,
    *,
    size: tuple[int, int] = (320, 240),
    face_width: float = 96,
    step: tuple[float, float] = (2.0, 0.0),
    seed: int = 0,
) -> list[np.ndarray]:
    """``n_frames`` frames of ``size`` (width, height) over :func:`background` holding each
    square face crop ``face_width`` pixels wide, side by side at mid-height, all moving
    ``step`` (x, y) pixels per frame."""
    width, height = size
    bg = background(height, width, seed)
    frames = []
    for t in range(n_frames):
        frame = bg.copy()
        for k, face in enumerate(faces):
            centre = (width * (k + 1) / (len(faces) + 1) + step[0] * t, height / 2 + step[1] * t)
            paste_face(frame, face, scale=face_width / face.shape[0], center=centre)
        frames.append(frame)
    return frames


def face_video(
    path: str | Path,
    faces: Sequence[np.ndarray],
    *,
    n_frames: int = 8,
    size: tuple[int, int] = (320, 240),
    face_width: float = 96,
    step: tuple[float, float] = (2.0, 0.0),
    seed: int = 0,
    fps: float = 10.0,
    **encoding,
) -> Path:
    """A video of :func:`face_frames` (one face per crop, side by side, drifting ``step``
    pixels per frame) written by :func:`write_video` with ``encoding`` (codec, gop, ...)."""
    frames = face_frames(faces, n_frames, size=size, face_width=face_width, step=step, seed=seed)
    return write_video(path, frames, fps=fps, **encoding)


def face_image(
    path: str | Path,
    face: np.ndarray,
    *,
    size: tuple[int, int] = (320, 240),
    face_width: float = 110,
    seed: int = 1,
) -> Path:
    """A PNG or JPEG (by suffix) of ``size`` (width, height) holding one face crop
    ``face_width`` pixels wide in the centre of a :func:`background`."""
    (frame,) = face_frames([face], 1, size=size, face_width=face_width, seed=seed)
    Image.fromarray(frame).save(path)
    return Path(path)
