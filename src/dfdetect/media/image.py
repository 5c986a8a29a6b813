"""Loading still images as RGB uint8 arrays, whatever their mode, orientation or size."""

from __future__ import annotations

import functools
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dfdetect.errors import MediaError
from dfdetect.media.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from dfdetect.media.sniff import sniff_bytes

_ALPHA_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white, as a browser would


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_bytes: int = MAX_IMAGE_BYTES,
    name: str | None = None,
) -> np.ndarray:
    """Read an image file (or its bytes) as RGB uint8 (H, W, 3).

    HEIC/HEIF photos are read with pillow-heif, AVIF by Pillow itself. EXIF orientation is
    applied; alpha is composited on white; 16-bit, grey, palette and CMYK
    images are converted. Raises :class:`MediaError` with reason ``missing``, ``zero_byte``,
    ``too_large``, ``decompression_bomb``, ``not_image``, ``truncated`` or ``corrupt``.
    ``name`` labels bytes input in errors.
    """
    label = name or ("<bytes>" if isinstance(source, bytes) else str(source))
    data = read_image_bytes(source, label, max_bytes)
    register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise MediaError(
                        label, "decompression_bomb", f"{width}x{height} > {max_pixels} pixels"
                    )
                img.load()
                return to_rgb(ImageOps.exif_transpose(img))
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(label, "decompression_bomb", str(exc)) from exc
    except UnidentifiedImageError as exc:
        if sniff_bytes(data[:512]) == "image":  # an image signature, then damaged data
            raise MediaError(label, "corrupt", "image header cannot be parsed") from exc
        raise MediaError(label, "not_image", "not a format Pillow can read") from exc
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise MediaError(label, reason, str(exc)) from exc
    except (ValueError, SyntaxError, EOFError) as exc:  # Pillow plugins raise these on bad data
        raise MediaError(label, "corrupt", str(exc)) from exc


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
