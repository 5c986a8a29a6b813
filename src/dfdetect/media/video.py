"""Random access to video frames with PyAV: exact frame indices (also for variable frame
rates), seeking to the keyframe before each wanted frame, rotation metadata applied."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dfdetect.errors import MediaError
from dfdetect.media.limits import MAX_PIXELS, too_many_pixels
from dfdetect.media.sniff import iso_media_truncated


class VideoReader:
    """Frames of a video's first video stream, addressed by presentation order.

    Opening demuxes the packets (no decoding) to index every frame's timestamp and the
    keyframes, so ``read`` can seek straight to the keyframe before a wanted frame and decode
    forward. Raises :class:`MediaError` (``missing``, ``zero_byte``, ``corrupt``, ``truncated``,
    ``no_video_stream``, ``too_many_pixels``, ``no_frames``).
    """

    def __init__(self, path: str | Path, *, max_frame_pixels: int = MAX_PIXELS) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MediaError(self.path, "missing", "no such file")
        if self.path.stat().st_size == 0:
            raise MediaError(self.path, "zero_byte", "the file is empty")
        try:
            self._container = av.open(str(self.path), mode="r")
        except av.error.FFmpegError as exc:
            if iso_media_truncated(self.path):
                detail = "the MP4/MOV data stops mid-file (incomplete download or recording)"
                raise MediaError(self.path, "truncated", detail) from exc
            raise MediaError(self.path, "corrupt", str(exc)) from exc
        try:
            self._open(max_frame_pixels)
        except BaseException:
            self._container.close()
            raise

    def _open(self, max_frame_pixels: int) -> None:
        if not self._container.streams.video:
            raise MediaError(self.path, "no_video_stream", "the file holds no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threading turns one bad packet into a dead decoder
        coded = stream.codec_context
        problem = too_many_pixels(coded.width, coded.height, max_frame_pixels)
        if problem is not None:
            raise MediaError(self.path, "too_many_pixels", problem)
        self._time_base = stream.time_base or Fraction(1, 1)
        self.truncated = iso_media_truncated(self.path)
        pts, keys = self._index_packets()
        if not pts:
            raise MediaError(self.path, "no_frames", "the video stream holds no frames")
        self._pts = sorted(pts)
        self._key_pts = sorted(keys) or self._pts[:1]
        self._start = self._pts[0]
        first = next(self.read([0]), None)
        if first is None:
            raise MediaError(self.path, "corrupt", "the first frame cannot be decoded")
        self.height, self.width = first[2].shape[:2]

    def _index_packets(self) -> tuple[list[int], list[int]]:
        pts: list[int] = []
        keys: list[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    raise MediaError(self.path, "corrupt", "packets carry no timestamps")
                pts.append(stamp)
                if packet.is_keyframe:
                    keys.append(stamp)
        except av.error.FFmpegError as exc:
            if not pts:
                raise MediaError(self.path, "corrupt", str(exc)) from exc
            self.truncated = True
        return pts, keys

    @property
    def n_frames(self) -> int:
        """Number of frames (counted from the packets, exact for variable frame rates)."""
        return len(self._pts)

    @property
    def fps(self) -> float:
        """Mean frame rate over the video."""
        span = float((self._pts[-1] - self._start) * self._time_base)
        if span > 0:
            return (self.n_frames - 1) / span
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        span = float((self._pts[-1] - self._start) * self._time_base)
        fps = self.fps
        return span + (1.0 / fps if fps > 0 else 0.0)

    @property
    def keyframes(self) -> list[int]:
        """Indices of the keyframes (frames that decode without the frames before them)."""
        return [bisect.bisect_left(self._pts, key) for key in self._key_pts]

    def time_of(self, index: int) -> float:
        """Presentation time in seconds of frame ``index`` from the first frame."""
        return float((self._pts[index] - self._start) * self._time_base)

    def read(self, indices: Iterable[int]) -> Iterator[tuple[int, float, np.ndarray]]:
        """Yield ``(index, time_s, RGB uint8 frame)`` for each wanted index, ascending.

        Frames that cannot be decoded (damaged or missing data) are left out; compare the
        yielded indices with the wanted ones. Out-of-range indices raise IndexError.
        """
        wanted = sorted({int(i) for i in indices})
        if wanted and (wanted[0] < 0 or wanted[-1] >= self.n_frames):
            raise IndexError(f"frame indices must lie in [0, {self.n_frames}), got {wanted}")
        position = -(2**62)  # pts of the last decoded frame
        pending: av.VideoFrame | None = None  # decoded past a missing frame: the next wanted?
        frames: Iterator[av.VideoFrame] | None = None
        for index in wanted:
            target = self._pts[index]
            if pending is not None and pending.pts == target:
                yield index, self.time_of(index), self._to_rgb(pending)
                pending = None
                continue
            if position > target:
                continue  # decoding forward went past it: the frame's data is missing
            key = self._key_pts[max(0, bisect.bisect_right(self._key_pts, target) - 1)]
            if frames is None or key > position:
                self._container.seek(key, stream=self._stream, backward=True, any_frame=False)
                frames, pending = self._decode(), None
            for frame in frames:
                if frame.pts is None or frame.pts < target:
                    continue
                position = frame.pts
                if position == target:
                    yield index, self.time_of(index), self._to_rgb(frame)
                else:
                    pending = frame
                break
            else:
                frames = None  # the data ran out before this frame

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decode forward from the current position, skipping packets that fail to decode."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    continue
        except av.error.FFmpegError:
            return

    @staticmethod
    def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        turns = round((frame.rotation or 0) / 90) % 4  # counterclockwise quarter turns
        return np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb

    def close(self) -> None:
        """Release the file."""
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoReader({str(self.path)!r}, n_frames={self.n_frames}, fps={self.fps:.3f}, "
            f"size={self.width}x{self.height})"
        )
