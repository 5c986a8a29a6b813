"""H.264 re-encoding with PyAV's bundled FFmpeg and libx264: images as short clips, and whole
videos, at a constant rate factor (CRF) or a target bitrate."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np

from dfdetect.errors import MediaError

PRESET = "medium"  # ffmpeg's default, as the DeeperForensics reference ran it


def _add_stream(container, width: int, height: int, rate: Fraction, crf, bitrate):
    if (crf is None) == (bitrate is None):
        raise ValueError("give exactly one of crf and bitrate")
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    options = {"preset": PRESET}
    if crf is not None:
        options["crf"] = str(int(crf))
    else:
        stream.bit_rate = int(bitrate)
    stream.options = options
    return stream


def _encode(frames: Iterable[np.ndarray], sink, fmt: str | None, rate, crf, bitrate) -> int:
    """Encode RGB frames (even sizes) into ``sink``; returns the frame count."""
    n = 0
    with av.open(sink, mode="w", format=fmt) as container:
        stream = None
        for rgb in frames:
            if stream is None:
                h, w = rgb.shape[:2]
                stream = _add_stream(container, w, h, rate, crf, bitrate)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = n
            container.mux(stream.encode(frame))
            n += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return n


def _even(image: np.ndarray) -> np.ndarray:
    """Pad the bottom/right edge by one pixel where a side is odd (yuv420p needs even sides)."""
    h, w = image.shape[:2]
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def encode_clip(
    images: Sequence[np.ndarray], *, crf: int | None = None, bitrate: int | None = None
) -> bytes:
    """The MP4 bytes of ``images`` (same size, RGB uint8) as an H.264 clip at 25 fps."""
    sink = io.BytesIO()
    _encode((_even(im) for im in images), sink, "mp4", Fraction(25), crf, bitrate)
    return sink.getvalue()


def h264_roundtrip(
    images: Sequence[np.ndarray], *, crf: int | None = None, bitrate: int | None = None
) -> list[np.ndarray]:
    """``images`` encoded as one H.264 clip (:func:`encode_clip`) and decoded back."""
    h, w = images[0].shape[:2]
    with av.open(io.BytesIO(encode_clip(images, crf=crf, bitrate=bitrate)), mode="r") as c:
        decoded = [f.to_ndarray(format="rgb24")[:h, :w] for f in c.decode(video=0)]
    if len(decoded) != len(images):
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} of {len(images)} frames")
    return decoded


def _decoded_frames(container, stream) -> Iterator[np.ndarray]:
    """RGB frames of ``stream`` in decoding order, rotation applied, sides made even."""
    for frame in container.decode(stream):
        rgb = frame.to_ndarray(format="rgb24")
        turns = round((frame.rotation or 0) / 90) % 4  # as VideoReader applies it
        yield _even(np.rot90(rgb, k=turns) if turns else rgb)


def reencode_video(
    src: Path,
    dst: Path,
    *,
    crf: int | None = None,
    bitrate_for: Callable[[int, int], int] | None = None,
) -> int:
    """Re-encode every frame of ``src``'s first video stream into ``dst`` (MP4, H.264) at
    ``crf``, or at ``bitrate_for(height, width)`` bits/s; returns the frame count."""
    try:
        with av.open(str(src), mode="r") as container:
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
            frames = _decoded_frames(container, stream)
            head = next(frames, None)
            if head is None:
                raise MediaError(src, "no_frames", "no frame could be decoded for re-encoding")
            bitrate = bitrate_for(*head.shape[:2]) if bitrate_for is not None else None
            return _encode(chain([head], frames), str(dst), "mp4", rate, crf, bitrate)
    except av.error.FFmpegError as exc:
        raise MediaError(src, "corrupt", f"re-encoding failed: {exc}") from exc


def has_libx264() -> bool:
    """Whether PyAV's FFmpeg can encode H.264 with libx264."""
    return "libx264" in av.codecs_available
