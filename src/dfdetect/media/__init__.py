"""Reading media: still images, videos with exact frame access, and frame sampling."""

from __future__ import annotations

from dfdetect.media.image import load_image
from dfdetect.media.sampling import (
    SAMPLING_MODES,
    SEEK_MODES,
    keyframe_positions,
    sample_frame_indices,
)
from dfdetect.media.sniff import MEDIA_EXTENSIONS, sniff_media_kind
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
