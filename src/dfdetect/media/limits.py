"""Size bounds on untrusted media, shared by image and video loading."""

from __future__ import annotations

MAX_IMAGE_PIXELS = 64_000_000  # a 64-megapixel photo; larger is treated as a decompression bomb
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_FRAME_PIXELS = 8192 * 8192  # per decoded video frame
