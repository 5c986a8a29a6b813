"""Size bounds on untrusted media, shared by image, animation and video loading: one pixel
bound for every decoded picture (``dfdetect scan --max-pixels``), one byte bound for images."""

from __future__ import annotations

# Pixels one decoded image, page or video frame may hold: every phone photo (108 MP) and
# nearly every camera's fits at full size. A larger JPEG is decoded at 1/2, 1/4 or 1/8 scale
# to fit; any other picture over it is refused (reason too_many_pixels) before it is decoded.
MAX_PIXELS = 120_000_000
MAX_IMAGE_BYTES = 256 * 1024 * 1024


def too_many_pixels(width: int, height: int, max_pixels: int) -> str | None:
    """Why a ``width`` x ``height`` picture is refused (the ``too_many_pixels`` detail), or
    None when it fits in ``max_pixels``."""
    if width * height <= max_pixels:
        return None
    return (
        f"{width}x{height} = {width * height / 1e6:.1f} MP > the {max_pixels / 1e6:g} MP limit "
        "(--max-pixels)"
    )
