"""Animated GIF, WebP and PNG read as short videos: frames addressed by index, with times."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from dfdetect.errors import MediaError
from dfdetect.media.image import read_image_bytes, to_rgb
from dfdetect.media.limits import MAX_FRAME_PIXELS, MAX_IMAGE_BYTES

ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
MAX_ANIMATION_FRAMES = 10_000
_DEFAULT_FRAME_MS = 100  # browsers show a frame without a duration for about this long


def is_animation(path: str | Path) -> bool:
    """Whether the image file at ``path`` is an animated GIF, WebP or PNG (header only)."""
    try:
        with Image.open(path) as img:
            return img.format in ANIMATED_FORMATS and getattr(img, "n_frames", 1) > 1
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return False  # not readable as an animation: the still-image loader says why


class Animation:
    """The frames of an animated image, with the interface of
    :class:`~dfdetect.media.video.VideoReader` the scan uses (``n_frames``, ``fps``,
    ``duration``, ``width``, ``height``, ``truncated``, ``keyframes``, ``read``).

    Raises :class:`MediaError` (``too_large``, ``corrupt``, ``truncated``).
    """

    def __init__(self, path: str | Path, *, max_frame_pixels: int = MAX_FRAME_PIXELS) -> None:
        self.path = Path(path)
        data = read_image_bytes(self.path, str(self.path), MAX_IMAGE_BYTES)
        self._img = Image.open(io.BytesIO(data))
        self.width, self.height = self._img.size
        self.n_frames = int(getattr(self._img, "n_frames", 1))
        if self.width * self.height > max_frame_pixels:
            raise MediaError(
                self.path, "too_large", f"{self.width}x{self.height} > {max_frame_pixels} px"
            )
        if self.n_frames > MAX_ANIMATION_FRAMES:
            raise MediaError(
                self.path, "too_large", f"{self.n_frames} frames > {MAX_ANIMATION_FRAMES}"
            )
        self._times: list[float] = []
        self.truncated = False
        total_ms = 0.0
        for index in range(self.n_frames):  # every frame's duration: one pass over the file
            if not self._seek(index):
                self.n_frames = index
                break
            self._times.append(total_ms / 1000)
            total_ms += self._img.info.get("duration") or _DEFAULT_FRAME_MS
        if not self._times:
            raise MediaError(self.path, "corrupt", "no frame of the animation can be decoded")
        self.duration = total_ms / 1000
        self.fps = self.n_frames / self.duration if self.duration else None

    def _seek(self, index: int) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._img.seek(index)
                self._img.load()
            return True
        except (OSError, ValueError, SyntaxError, EOFError):
            self.truncated = True
            return False

    @property
    def keyframes(self) -> list[int]:
        """Every frame: Pillow seeks to any frame of an animation, so keyframe seeking leaves
        the sampled frames as they are."""
        return list(range(self.n_frames))

    def read(self, indices: Iterable[int]) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, time in seconds, RGB uint8 frame)`` for each wanted index that decodes."""
        for index in sorted(set(int(i) for i in indices)):
            if 0 <= index < self.n_frames and self._seek(index):
                yield index, self._times[index], to_rgb(self._img)

    def close(self) -> None:
        """Release the decoder."""
        self._img.close()

    def __enter__(self) -> Animation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
