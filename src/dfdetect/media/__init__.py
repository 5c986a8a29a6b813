"""Reading media: still images, videos with exact frame access, and frame sampling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfdetect.media.image import load_image
from dfdetect.media.sampling import (
    SAMPLING_MODES,
    SEEK_MODES,
    keyframe_positions,
    sample_frame_indices,
)
from dfdetect.media.sniff import MEDIA_EXTENSIONS, sniff_media_kind

if TYPE_CHECKING:
    from dfdetect.media.video import VideoReader

__all__ = [
    "MEDIA_EXTENSIONS",
    "SAMPLING_MODES",
    "SEEK_MODES",
    "VideoReader",
    "keyframe_positions",
    "load_image",
    "sample_frame_indices",
    "sniff_media_kind",
]


def __getattr__(name: str):  # lazy: scanning images alone does not import PyAV
    if name == "VideoReader":
        from dfdetect.media.video import VideoReader

        return VideoReader
    raise AttributeError(f"module 'dfdetect.media' has no attribute {name!r}")
