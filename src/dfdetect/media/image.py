"""Loading still images as RGB uint8 arrays, whatever their mode, orientation or size."""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from dfdetect.errors import MediaError
from dfdetect.media.limits import MAX_IMAGE_BYTES, MAX_PIXELS, too_many_pixels
from dfdetect.media.sniff import sniff_bytes

JPEG_MAGIC = b"\xff\xd8\xff"
_ALPHA_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white, as a browser would


@dataclass(frozen=True)
class Picture:
    """A decoded still: RGB uint8 ``pixels`` (H, W, 3), decoded at ``scale`` of the stored
    ``size`` (width, height; below 1 when a JPEG over the pixel limit was decoded reduced)."""

    pixels: np.ndarray
    size: tuple[int, int]
    scale: float = 1.0


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_IMAGE_BYTES,
    name: str | None = None,
) -> np.ndarray:
    """Read an image file (or its bytes) as RGB uint8 (H, W, 3); see :func:`decode_image`."""
    return decode_image(source, max_pixels=max_pixels, max_bytes=max_bytes, name=name).pixels


def decode_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_IMAGE_BYTES,
    name: str | None = None,
) -> Picture:
    """Read an image file (or its bytes) as RGB uint8, at most ``max_pixels`` of them.

    HEIC/HEIF photos are read with pillow-heif, AVIF by Pillow itself. EXIF orientation is
    applied; alpha is composited on white; 16-bit, grey, palette and CMYK images are
    converted. A JPEG whose header says more than ``max_pixels`` is decoded at 1/2, 1/4 or 1/8
    scale (the largest that fits: ``Picture.scale``); any other such image is refused from its
    header, before decoding. Raises :class:`MediaError` with reason ``missing``,
    ``zero_byte``, ``too_large`` (bytes), ``too_many_pixels``, ``not_image``, ``truncated``
    or ``corrupt``. ``name`` labels bytes input in errors.
    """
    label = name or ("<bytes>" if isinstance(source, bytes) else str(source))
    data = read_image_bytes(source, label, max_bytes)
    register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP on; the bound that holds is max_pixels, checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_image(data) as img:
                width, height = img.size
                scale = fit_pixels(img, max_pixels, label)
                img.load()
                pixels = to_rgb(ImageOps.exif_transpose(img))
                turned = (pixels.shape[1] > pixels.shape[0]) != (img.size[0] > img.size[1])
                return Picture(pixels, (height, width) if turned else (width, height), scale)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own bound (179 MP), not JPEG
        raise MediaError(label, "too_many_pixels", str(exc)) from exc
    except UnidentifiedImageError as exc:
        if sniff_bytes(data[:512]) == "image":  # an image signature, then damaged data
            raise MediaError(label, "corrupt", "image header cannot be parsed") from exc
        raise MediaError(label, "not_image", "not a format Pillow can read") from exc
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise MediaError(label, reason, str(exc)) from exc
    except (ValueError, SyntaxError, EOFError) as exc:  # Pillow plugins raise these on bad data
        raise MediaError(label, "corrupt", str(exc)) from exc


def open_image(data: bytes) -> Image.Image:
    """``data`` opened lazily (header only). JPEG goes straight to its plugin, past Pillow's
    fixed pixel bound, so that :func:`fit_pixels` can decode a large photo reduced."""
    if data.startswith(JPEG_MAGIC):
        return JpegImagePlugin.jpeg_factory(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


def fit_pixels(img: Image.Image, max_pixels: int, label: str) -> float:
    """Make the opened ``img`` decode to at most ``max_pixels``: a JPEG through its reduced
    (DCT-scaled) decoding, returning the scale; raises ``too_many_pixels`` otherwise."""
    width, height = img.size
    problem = too_many_pixels(width, height, max_pixels)
    if problem is None:
        return 1.0
    if isinstance(img, JpegImagePlugin.JpegImageFile):
        factor = next(
            (f for f in (2, 4, 8) if -(-width // f) * -(-height // f) <= max_pixels), None
        )
        reduced = factor is not None and img.draft(None, (width // factor, height // factor))
        if reduced and img.size[0] * img.size[1] <= max_pixels:
            return img.size[0] / width
    raise MediaError(label, "too_many_pixels", problem)


def read_image_bytes(source: str | Path | bytes, label: str, max_bytes: int) -> bytes:
    """The bytes of an image file (or ``source`` itself), refusing missing, empty and
    oversized input with :class:`MediaError`."""
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise MediaError(label, "missing", "no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise MediaError(label, "too_large", f"{size} bytes > {max_bytes}")
        data = path.read_bytes()
    if not data:
        raise MediaError(label, "zero_byte", "the file is empty")
    if len(data) > max_bytes:
        raise MediaError(label, "too_large", f"{len(data)} bytes > {max_bytes}")
    return data


@functools.cache
def register_heif() -> bool:
    """Teach Pillow to open HEIC/HEIF (phone photos) through pillow-heif, once; False when
    pillow-heif is not installed (such files are then reported ``not_image``)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def to_rgb(img: Image.Image) -> np.ndarray:
    """A loaded Pillow image as RGB uint8, scaling 16-bit and float samples to 8 bits."""
    if img.mode.startswith("I") or img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        sixteen_bit = img.mode.startswith("I;16") or values.max(initial=0) > 255
        grey = values * (255.0 / 65535.0) if sixteen_bit else values
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_ALPHA_BACKGROUND, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
