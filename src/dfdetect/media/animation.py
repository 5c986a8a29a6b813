"""Animated GIF, WebP and PNG read as short videos, frames addressed by index with times; the
pages of a multi-page TIFF read the same way, without times."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from dfdetect.errors import MediaError
from dfdetect.media.image import read_image_bytes, to_rgb
from dfdetect.media.limits import MAX_IMAGE_BYTES, MAX_PIXELS, too_many_pixels

ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
PAGED_FORMATS = frozenset({"TIFF"})
MAX_ANIMATION_FRAMES = 10_000
_DEFAULT_FRAME_MS = 100  # browsers show a frame without a duration for about this long


def is_animation(path: str | Path) -> bool:
    """Whether the image file at ``path`` is an animated GIF, WebP or PNG (header only)."""
    return _multi_frame_format(path) in ANIMATED_FORMATS


def is_multipage(path: str | Path) -> bool:
    """Whether the image file at ``path`` is a TIFF of several pages (header only)."""
    return _multi_frame_format(path) in PAGED_FORMATS


def _multi_frame_format(path: str | Path) -> str | None:
    """The Pillow format of an image file holding more than one frame, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.format if getattr(img, "n_frames", 1) > 1 else None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None  # not readable as frames: the still-image loader says why


class Animation:
    """The frames of an animated image (or the pages of a multi-page TIFF: ``paged``, no
    times), with the interface of :class:`~dfdetect.media.video.VideoReader` the scan uses
    (``n_frames``, ``fps``, ``duration``, ``width``, ``height``, ``truncated``, ``keyframes``,
    ``read``). A frame over ``max_frame_pixels`` ends the frames read (``truncated``); the
    first one over it refuses the file.

    Raises :class:`MediaError` (``too_large``, ``too_many_pixels``, ``corrupt``,
    ``truncated``).
    """

    def __init__(self, path: str | Path, *, max_frame_pixels: int = MAX_PIXELS) -> None:
        self.path = Path(path)
        data = read_image_bytes(self.path, str(self.path), MAX_IMAGE_BYTES)
        try:
            with warnings.catch_warnings():  # the bound that holds is max_frame_pixels
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise MediaError(self.path, "too_many_pixels", str(exc)) from exc
        self.max_frame_pixels = max_frame_pixels
        self.width, self.height = self._img.size
        self.paged = self._img.format in PAGED_FORMATS
        self.n_frames = int(getattr(self._img, "n_frames", 1))
        problem = too_many_pixels(self.width, self.height, max_frame_pixels)
        if problem is not None:
            raise MediaError(self.path, "too_many_pixels", problem)
        if self.n_frames > MAX_ANIMATION_FRAMES:
            raise MediaError(
                self.path, "too_large", f"{self.n_frames} frames > {MAX_ANIMATION_FRAMES}"
            )
        self._times: list[float | None] = []
        self.truncated = False
        total_ms = 0.0
        for index in range(self.n_frames):  # every frame's duration: one pass over the file
            if not self._seek(index):
                self.n_frames = index
                break
            self._times.append(None if self.paged else total_ms / 1000)
            total_ms += self._img.info.get("duration") or _DEFAULT_FRAME_MS
        if not self._times:
            raise MediaError(self.path, "corrupt", "no frame of the animation can be decoded")
        self.duration = None if self.paged else total_ms / 1000
        self.fps = self.n_frames / self.duration if self.duration else None

    def _seek(self, index: int) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._img.seek(index)
                if too_many_pixels(*self._img.size, self.max_frame_pixels) is not None:
                    raise ValueError("frame over the pixel limit")
                self._img.load()
            return True
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
            self.truncated = True
            return False

    @property
    def keyframes(self) -> list[int]:
        """Every frame: Pillow seeks to any frame of an animation, so keyframe seeking leaves
        the sampled frames as they are."""
        return list(range(self.n_frames))

    def read(self, indices: Iterable[int]) -> Iterator[tuple[int, float | None, np.ndarray]]:
        """``(index, time in seconds (None for pages), RGB uint8 frame)`` for each wanted index
        that decodes."""
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
