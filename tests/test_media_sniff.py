"""sniff_media_kind judges by content, so misnamed files are handled by what they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdetect.errors import MediaError
from dfdetect.media import sniff_media_kind
from dfdetect.media.sniff import iso_media_truncated
from dfdetect.media.synthetic import write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sniff")
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    files = {}
    for fmt, ext in [
        ("PNG", "png"),
        ("JPEG", "jpg"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tif"),
        ("GIF", "gif"),
    ]:
        files[ext] = root / f"a.{ext}"
        Image.fromarray(rgb).save(files[ext], format=fmt)
    frames = [rgb] * 3
    files["mp4"] = write_video(root / "a.mp4", frames)
    files["avi"] = write_video(root / "a.avi", frames, codec="mpeg4")
    files["mkv"] = write_video(root / "a.mkv", frames)
    return files


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "bmp", "tif", "gif"])
def test_images(media: dict[str, Path], ext: str) -> None:
    assert sniff_media_kind(media[ext]) == "image"


@pytest.mark.parametrize("ext", ["mp4", "avi", "mkv"])
def test_videos(media: dict[str, Path], ext: str) -> None:
    assert sniff_media_kind(media[ext]) == "video"


def test_content_wins_over_the_extension(media: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "clip.jpg").write_bytes(media["mp4"].read_bytes())
    (tmp_path / "photo.mp4").write_bytes(media["png"].read_bytes())
    assert sniff_media_kind(tmp_path / "clip.jpg") == "video"
    assert sniff_media_kind(tmp_path / "photo.mp4") == "image"


def test_failures_name_the_file_and_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    (tmp_path / "readme.mp4").write_text("this is not a video at all\n" * 20)
    for name, reason in [
        ("empty.mp4", "zero_byte"),
        ("readme.mp4", "not_media"),
        ("nope.mp4", "missing"),
    ]:
        with pytest.raises(MediaError) as info:
            sniff_media_kind(tmp_path / name)
        assert info.value.reason == reason
        assert info.value.path == str(tmp_path / name)


def test_iso_truncation_is_detected(media: dict[str, Path], tmp_path: Path) -> None:
    data = media["mp4"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) - 10])
    assert not iso_media_truncated(media["mp4"])
    assert iso_media_truncated(tmp_path / "cut.mp4")
    assert not iso_media_truncated(media["mkv"])  # not ISO media: no verdict
