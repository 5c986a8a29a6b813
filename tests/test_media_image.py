"""load_image: every mode, orientation and failure a user's photo folder can hold."""

from __future__ import annotations

import inspect
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dfdetect.errors import MediaError
from dfdetect.media import load_image
from dfdetect.media.image import decode_image
from dfdetect.media.limits import MAX_PIXELS


def _reason(path, **kwargs) -> str:
    with pytest.raises(MediaError) as info:
        load_image(path, **kwargs)
    assert str(path) in str(info.value)
    return info.value.reason


def test_rgb_roundtrip_is_exact(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red everywhere, transparent except one opaque pixel
    rgba[0, 0, 3] = 255
    rgba[1, 1, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[3, 3], [255, 255, 255])
    np.testing.assert_allclose(out[1, 1], [228, 128, 128], atol=1)  # half-way blend


def test_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([10, 20, 30, 250, 0, 0] + [0] * 762)
    img.putpixel((2, 2), 1)
    img.save(tmp_path / "a.gif", transparency=0)
    out = load_image(tmp_path / "a.gif")
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[2, 2], [250, 0, 0])


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    grey = np.array([[0, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255])
    assert (out[..., 0] == out[..., 2]).all()


def test_sixteen_bit_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((3, 5, 3), np.uint16)
    bgr[..., 2] = 65535  # red
    bgr[..., 1] = 32896
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png")[1, 1], [255, 128, 0])


def test_greyscale_jpeg_becomes_three_channels(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 90, np.uint8), "L").save(tmp_path / "a.jpg")
    out = load_image(tmp_path / "a.jpg")
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out, 90, atol=2)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "a.jpg")  # pure red in CMYK
    out = load_image(tmp_path / "a.jpg")
    assert out.shape == (8, 8, 3)
    assert out[..., 0].mean() > 200 and out[..., 1].mean() < 40 and out[..., 2].mean() < 40


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # white band on the stored image's left
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "a.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "a.jpg")
    assert out.shape == (40, 20, 3)
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # the band is now on top


def test_zero_byte_missing_and_not_image(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    (tmp_path / "notes.png").write_text("just some text, not a picture\n" * 10)
    assert _reason(tmp_path / "empty.jpg") == "zero_byte"
    assert _reason(tmp_path / "absent.jpg") == "missing"
    assert _reason(tmp_path / "notes.png") == "not_image"


def test_truncated_and_corrupt(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert _reason(tmp_path / "cut.jpg") == "truncated"
    assert _reason(tmp_path / "bad.png") == "corrupt"


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that claims a huge size: the decompression-bomb shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path) -> None:
    _png_header_only(tmp_path / "bomb.png", 12_000, 12_000)  # 144 Mpx claimed in ~100 bytes
    assert (tmp_path / "bomb.png").stat().st_size < 200
    assert _reason(tmp_path / "bomb.png") == "too_many_pixels"
    _png_header_only(tmp_path / "huge.png", 40_000, 40_000)  # past Pillow's own bound too
    assert _reason(tmp_path / "huge.png") == "too_many_pixels"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(MediaError) as info:
        load_image(tmp_path / "small.png", max_pixels=5_000)
    assert info.value.reason == "too_many_pixels"
    assert "100x100 = 0.0 MP > the 0.005 MP limit (--max-pixels)" in info.value.detail
    assert load_image(tmp_path / "small.png", max_pixels=10_000).shape == (100, 100, 3)


def test_one_pixel_limit_everywhere() -> None:
    from dfdetect.media.animation import Animation
    from dfdetect.media.video import VideoReader
    from dfdetect.scan import ScanOptions

    assert MAX_PIXELS >= 108_000_000  # a 108-megapixel phone photo fits at full size
    defaults = [
        inspect.signature(load_image).parameters["max_pixels"].default,
        inspect.signature(decode_image).parameters["max_pixels"].default,
        inspect.signature(Animation).parameters["max_frame_pixels"].default,
        inspect.signature(VideoReader).parameters["max_frame_pixels"].default,
        ScanOptions().max_pixels,
    ]
    assert defaults == [MAX_PIXELS] * 5


def test_a_108_megapixel_phone_photo_is_decoded(tmp_path: Path) -> None:
    tile = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    Image.fromarray(tile).resize((12_000, 9_000)).save(tmp_path / "phone.jpg", quality=70)
    picture = decode_image(tmp_path / "phone.jpg")
    assert picture.pixels.shape == (9_000, 12_000, 3)
    assert (picture.size, picture.scale) == ((12_000, 9_000), 1.0)


def test_a_jpeg_over_the_limit_is_decoded_reduced_other_formats_refused(tmp_path: Path) -> None:
    rgb = cv2.resize(
        np.random.default_rng(4).integers(0, 256, (30, 40, 3), dtype=np.uint8), (400, 300)
    )
    Image.fromarray(rgb).save(tmp_path / "big.jpg", quality=95)
    Image.fromarray(rgb).save(tmp_path / "big.png")
    half = decode_image(tmp_path / "big.jpg", max_pixels=40_000)  # 120 000 px stored
    assert half.pixels.shape == (150, 200, 3) and half.scale == 0.5 and half.size == (400, 300)
    reference = cv2.resize(rgb, (200, 150), interpolation=cv2.INTER_AREA)
    assert np.abs(half.pixels.astype(int) - reference).mean() < 8  # the same picture
    eighth = decode_image(tmp_path / "big.jpg", max_pixels=2_000)
    assert eighth.pixels.shape == (38, 50, 3) and eighth.scale == 0.125
    assert _reason(tmp_path / "big.jpg", max_pixels=1_000) == "too_many_pixels"  # not even 1/8
    assert _reason(tmp_path / "big.png", max_pixels=40_000) == "too_many_pixels"
    # EXIF orientation: the stored size is reported as shown, upright
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    img.save(tmp_path / "turned.jpg", exif=exif)
    turned = decode_image(tmp_path / "turned.jpg", max_pixels=40_000)
    assert turned.pixels.shape == (200, 150, 3) and turned.size == (300, 400)


def test_byte_size_bound_and_bytes_input(tmp_path: Path) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    np.testing.assert_array_equal(load_image(data), rgb)
    assert _reason(tmp_path / "a.png", max_bytes=100) == "too_large"
    with pytest.raises(MediaError, match=r"upload\.png: zero_byte"):
        load_image(b"", name="upload.png")
