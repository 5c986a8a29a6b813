"""VideoReader: exact frames by index, variable frame rates, rotation metadata, seeking that
decodes only what it needs, and damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdetect.errors import MediaError
from dfdetect.media import VideoReader, keyframe_positions, sample_frame_indices
from dfdetect.media.synthetic import write_video

WIDTH, HEIGHT, BITS = 160, 96, 10


def coded_frame(i: int) -> np.ndarray:
    """A frame whose index is written as 10 black/white blocks (survives lossy coding)."""
    img = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    for b in range(BITS):
        if (i >> b) & 1:
            img[8:40, 4 + b * 15 : 16 + b * 15] = 230
    img[60:90, 10:40] = (200, 30, 30)  # an asymmetric red patch shows orientation
    return img


def read_code(img: np.ndarray) -> int:
    return sum(1 << b for b in range(BITS) if img[24, 10 + b * 15].mean() > 128)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("video")
    vfr_times = np.cumsum([0.0] + [0.02 if i % 3 else 0.1 for i in range(59)]).tolist()
    return {
        "cfr": write_video(root / "cfr.mp4", (coded_frame(i) for i in range(300)), gop=12),
        "vfr": write_video(root / "vfr.mp4", [coded_frame(i) for i in range(60)], times=vfr_times),
        "rot": write_video(root / "rot.mp4", [coded_frame(i) for i in range(8)], rotation=90),
        "avi": write_video(root / "mpeg4.avi", [coded_frame(i) for i in range(40)], codec="mpeg4"),
        "vfr_times": vfr_times,  # type: ignore[dict-item]
    }


def test_cfr_properties_and_exact_random_access(videos) -> None:
    with VideoReader(videos["cfr"]) as reader:
        assert (reader.n_frames, reader.width, reader.height) == (300, WIDTH, HEIGHT)
        assert reader.fps == pytest.approx(25.0)
        assert reader.duration == pytest.approx(12.0)
        wanted = [299, 0, 13, 12, 150, 151, 77]
        got = list(reader.read(wanted))
    assert [i for i, _, _ in got] == sorted(wanted)
    for index, time_s, frame in got:
        assert read_code(frame) == index
        assert time_s == pytest.approx(index / 25.0)
        assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8


def test_mpeg4_avi(videos) -> None:
    with VideoReader(videos["avi"]) as reader:
        assert reader.n_frames == 40
        assert [read_code(f) for _, _, f in reader.read([39, 3, 20])] == [3, 20, 39]


def test_variable_frame_rate_indices_and_times(videos) -> None:
    times = videos["vfr_times"]
    with VideoReader(videos["vfr"]) as reader:
        assert reader.n_frames == 60
        assert reader.fps == pytest.approx(59 / times[-1])
        got = list(reader.read([0, 1, 2, 3, 30, 59]))
    for index, time_s, frame in got:
        assert read_code(frame) == index
        assert time_s == pytest.approx(times[index], abs=1e-3)


def test_rotation_metadata_is_applied(videos) -> None:
    with VideoReader(videos["rot"]) as reader:
        assert (reader.width, reader.height) == (HEIGHT, WIDTH)  # displayed size
        ((_, _, frame),) = reader.read([5])
    # display matrix 90 = turn the stored picture 90 degrees counterclockwise
    expected = np.rot90(coded_frame(5))
    assert frame.shape == expected.shape
    right = np.abs(frame.astype(int) - expected).mean()
    wrong = np.abs(frame.astype(int) - np.rot90(coded_frame(5), -1)).mean()
    assert right < 6 and wrong > 4 * right


def count_decoded(monkeypatch) -> list[int]:
    """Patch VideoReader to record every frame it decodes; returns the growing record."""
    decoded: list[int] = []
    original = VideoReader._decode

    def counting(self):
        for frame in original(self):
            decoded.append(1)
            yield frame

    monkeypatch.setattr(VideoReader, "_decode", counting)
    return decoded


def test_seeking_decodes_only_the_needed_groups(videos, monkeypatch) -> None:
    decoded = count_decoded(monkeypatch)
    with VideoReader(videos["cfr"]) as reader:
        decoded.clear()
        frames = list(reader.read([100, 200, 290]))
    assert [read_code(f) for _, _, f in frames] == [100, 200, 290]
    assert len(decoded) <= 3 * (12 + 4)  # one group of pictures (gop 12, plus B-frame slack) each


def test_keyframe_seeking_decodes_far_fewer_frames_of_a_long_video(tmp_path, monkeypatch) -> None:
    # 100 s at 25 fps, keyframes 250 apart (no scene-cut keyframes), 8 frames sampled
    path = write_video(
        tmp_path / "long.mp4",
        (coded_frame(i) for i in range(2500)),
        gop=250,
        codec_options={"x264-params": "scenecut=0"},
    )
    decoded = count_decoded(monkeypatch)
    with VideoReader(path) as reader:
        assert reader.keyframes == list(range(0, 2500, 250))
        wanted = sample_frame_indices(reader.n_frames, 8, "even")
        assert wanted.tolist() == [0, 357, 714, 1071, 1428, 1785, 2142, 2499]
        decoded.clear()
        exact = [(i, read_code(f)) for i, _, f in reader.read(wanted)]
        exact_decoded = len(decoded)
        planned = keyframe_positions(wanted, reader.keyframes, reader.n_frames)
        decoded.clear()
        fast = [(i, read_code(f)) for i, _, f in reader.read(planned)]
    # exact: the sampled frames; keyframe: the keyframe nearest to each (the last sample's
    # window [2321, 2499] holds none, so it takes the window's first frame)
    assert [i for i, _ in exact] == wanted.tolist()
    assert planned.tolist() == [0, 250, 750, 1000, 1500, 1750, 2250, 2321]
    assert [i for i, _ in fast] == planned.tolist()
    assert all(code == i % 2**BITS for i, code in exact + fast)
    assert exact_decoded >= 900  # 8 seeks, each decoding ~120 frames of its group
    assert len(decoded) <= 8 + 71 + 8  # one per keyframe, 2321 - 2250 for the last, B-frame slack


def test_out_of_range_indices(videos) -> None:
    with VideoReader(videos["avi"]) as reader, pytest.raises(IndexError):
        list(reader.read([40]))


def test_truncated_mp4(videos, tmp_path: Path) -> None:
    data = videos["cfr"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # index (moov) at the end: lost
    with pytest.raises(MediaError) as info:
        VideoReader(tmp_path / "cut.mp4")
    assert info.value.reason == "truncated"


def test_damaged_mp4_is_corrupt_not_truncated(videos, tmp_path: Path) -> None:
    data = bytearray(videos["cfr"].read_bytes())
    second = int.from_bytes(data[:4], "big")  # the box after ftyp
    data[second : second + 8] = b"\x7f\xff\xff\xff\x01\x02\x03\x04"  # a size past the end
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    with pytest.raises(MediaError) as info:
        VideoReader(tmp_path / "bad.mp4")
    assert info.value.reason == "corrupt"


def test_truncated_faststart_mp4_keeps_what_is_there(tmp_path: Path) -> None:
    frames = (coded_frame(i) for i in range(100))
    options = {"movflags": "faststart"}  # the index (moov) first
    data = write_video(tmp_path / "faststart.mp4", frames, container_options=options).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    with VideoReader(tmp_path / "cut.mp4") as reader:
        assert reader.truncated
        got = list(reader.read(range(reader.n_frames)))
    assert 0 < len(got) < 100
    assert read_code(got[0][2]) == 0


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    for name, reasons in [
        ("empty.mp4", {"zero_byte"}),
        ("junk.mp4", {"corrupt", "truncated"}),
        ("none.mp4", {"missing"}),
    ]:
        with pytest.raises(MediaError) as info:
            VideoReader(tmp_path / name)
        assert info.value.reason in reasons, info.value


def test_frame_size_bound(videos) -> None:
    with pytest.raises(MediaError) as info:
        VideoReader(videos["avi"], max_frame_pixels=100 * 100)
    assert info.value.reason == "too_many_pixels" and "--max-pixels" in info.value.detail
