"""Generated test media for the scan tests (frames with pasted sample faces, PyAV videos),
and checks that the generator makes what the other scan tests rely on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

from dfdetect.media import VideoReader


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB background (no face in it)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(big).copy()


def paste_face(
    frame: np.ndarray, crop: np.ndarray, centre: tuple[float, float], width: int
) -> None:
    """Paste a square face crop scaled to ``width`` pixels, centred at ``centre`` (x, y)."""
    face = np.asarray(Image.fromarray(crop).resize((width, width), Image.Resampling.BILINEAR))
    x0, y0 = round(centre[0] - width / 2), round(centre[1] - width / 2)
    frame[y0 : y0 + width, x0 : x0 + width] = face


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 10) -> Path:
    """Encode RGB frames as an MPEG-4 Part 2 video with PyAV."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 2_000_000
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_video(
    path: Path,
    crops: Sequence[np.ndarray],
    *,
    n_frames: int = 8,
    size: tuple[int, int] = (320, 240),
    face_width: int = 96,
    fps: int = 10,
    seed: int = 0,
) -> Path:
    """A video with one face per crop, side by side, drifting right by 2 px per frame."""
    width, height = size
    bg = background(height, width, seed)
    frames = []
    for t in range(n_frames):
        frame = bg.copy()
        for k, crop in enumerate(crops):
            cx = width * (k + 1) / (len(crops) + 1) + 2 * t
            paste_face(frame, crop, (cx, height / 2), face_width)
        frames.append(frame)
    return write_video(path, frames, fps)


def face_image(path: Path, crop: np.ndarray, size: tuple[int, int] = (320, 240)) -> Path:
    """A PNG or JPEG (by suffix) holding one pasted face."""
    frame = background(size[1], size[0], seed=1)
    paste_face(frame, crop, (size[0] / 2, size[1] / 2), 110)
    Image.fromarray(frame).save(path)
    return path


def load_crop(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def test_face_video_has_the_frames_and_the_face(tmp_path, sample_faces):
    crop = load_crop(sample_faces["real"][0])
    path = face_video(tmp_path / "v.mp4", [crop], n_frames=6, fps=10)
    with VideoReader(path) as reader:
        assert (reader.n_frames, reader.width, reader.height) == (6, 320, 240)
        ((_, time_s, frame),) = list(reader.read([5]))
    assert abs(time_s - 0.5) < 1e-6
    # the face was pasted centred at x = 160 + 10 px by frame 5: it differs from the background
    diff = np.abs(frame.astype(int) - background(240, 320).astype(int)).mean(axis=2)
    assert diff[120, 170] > 20 and diff[10, 10] < 10
