"""`dfdetect extract` end to end on generated videos and images holding real sample faces,
plus every kind of bad input: layout, manifest, failure report, resume, no partial output,
mask-based face choice, parallel workers and argument errors."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dfdetect.cli import extract as extract_cli
from dfdetect.extract import worker
from dfdetect.media import load_image, sample_frame_indices
from dfdetect.media.synthetic import paste_face, write_video

N_FRAMES = 30
FPS = 25.0


def run_extract(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dfdetect extract")
    extract_cli.add_arguments(parser)
    return extract_cli.run(parser.parse_args(argv))


def _frames(face: np.ndarray, n: int, small: np.ndarray | None = None) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        frame = np.full((360, 640, 3), 90, np.uint8)
        paste_face(frame, face, scale=0.8, center=(200 + 4 * i, 180))
        if small is not None:
            paste_face(frame, small, scale=0.35, center=(520, 120))
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def raw(tmp_path_factory, sample_faces: dict[str, list[Path]]) -> Path:
    root = tmp_path_factory.mktemp("raw")
    face, other = load_image(sample_faces["real"][0]), load_image(sample_faces["fake"][0])
    videos, masks = root / "videos", root / "masks"
    videos.mkdir()
    masks.mkdir()
    write_video(videos / "face_a.mp4", _frames(face, N_FRAMES), fps=FPS)
    write_video(videos / "two_faces.mp4", _frames(face, 8, small=other), fps=FPS)
    mask = np.zeros((360, 640, 3), np.uint8)
    mask[90:150, 490:550] = 255  # the small face was manipulated
    write_video(masks / "two_faces.mp4", [mask] * 8, fps=FPS)
    write_video(videos / "blank.mp4", [np.full((360, 640, 3), 90, np.uint8)] * 5, fps=FPS)
    data = (videos / "face_a.mp4").read_bytes()
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    (videos / "zero.mp4").touch()
    (videos / "notes.mp4").write_text("not a video\n" * 100)
    photos = root / "photos"
    photos.mkdir()
    upright = np.full((400, 300, 3), 90, np.uint8)
    paste_face(upright, face, scale=0.9)
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(upright, -1)))  # stored rotated
    exif = sideways.getexif()
    exif[0x0112] = 8  # "rotate 90 CCW to display": the face is upright only if EXIF is applied
    sideways.save(photos / "exif.jpg", exif=exif, quality=95)
    rgba = np.dstack([upright, np.full(upright.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(photos / "alpha.png")
    Image.fromarray(cv2.cvtColor(upright, cv2.COLOR_RGB2GRAY), "L").save(photos / "grey.png")
    return root


@pytest.fixture(scope="module")
def first_run(raw: Path, tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("out")
    videos = raw / "videos"
    inputs = [
        str(videos / n) for n in ("face_a.mp4", "blank.mp4", "cut.mp4", "zero.mp4", "notes.mp4")
    ]
    code = run_extract(
        [*inputs, str(raw / "photos"), "--out", str(out), "--dataset", "DS", "--frames", "4"]
    )
    return out, code


def test_layout_and_crops(first_run: tuple[Path, int]) -> None:
    out, code = first_run
    assert code == 1  # some inputs failed
    expected = sample_frame_indices(N_FRAMES, 4, "max-spread")
    names = sorted(p.name for p in (out / "DS" / "videos" / "face_a").glob("*.png"))
    assert names == sorted(f"{i:03d}.png" for i in expected)
    for photo in ("exif", "alpha", "grey"):
        assert (out / "DS" / "photos" / photo / "000.png").is_file()
    crop = load_image(out / "DS" / "videos" / "face_a" / "000.png")
    assert crop.shape == (256, 256, 3)
    assert not list(out.rglob(".*partial*"))


def test_manifest_is_read_by_pandas_with_provenance(first_run: tuple[Path, int]) -> None:
    out, _ = first_run
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 4 + 3
    video = manifest[manifest.video == "face_a"].sort_values("frame_index")
    assert video.frame_index.tolist() == sorted(
        sample_frame_indices(N_FRAMES, 4, "max-spread").tolist()
    )
    np.testing.assert_allclose(video.time_s, video.frame_index / FPS, atol=1e-3)
    assert set(manifest.preset) == {"gend"} and set(manifest.detector) == {"mtcnn"}
    assert (manifest.preset_margin == 1.3).all() and (manifest.crop_size == 256).all()
    assert (manifest.score > 0.9).all()
    assert (manifest.left_eye_x > manifest.box_x1).all() and (
        manifest.mouth_right_y < manifest.box_y2
    ).all()
    # the face moves 4 px per frame: the boxes follow it
    shift = np.polyfit(video.frame_index, (video.box_x1 + video.box_x2) / 2, 1)[0]
    assert shift == pytest.approx(4.0, abs=0.5)
    for rel in manifest.crop:
        assert (out / rel).is_file()
    assert manifest.source_file.str.endswith("face_a.mp4").sum() == 4


def test_failure_report_names_every_bad_file(first_run: tuple[Path, int]) -> None:
    out, _ = first_run
    failures = pd.read_csv(out / "failures.csv")
    by_file = {Path(f).name: r for f, r in zip(failures.file, failures.reason, strict=True)}
    assert by_file == {
        "blank.mp4": "no_face",
        "cut.mp4": "truncated",
        "zero.mp4": "zero_byte",
        "notes.mp4": "not_media",
    }
    report = pd.read_json(out / "failures.json", typ="series")
    assert report["n_failures"] == 4 and report["by_reason"]["truncated"] == 1
    assert not (out / "DS" / "videos" / "blank").exists()


def test_resume_skips_finished_videos(
    first_run: tuple[Path, int], raw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    kept = out / "DS" / "videos" / "face_a" / "000.png"
    before = kept.stat().st_mtime_ns
    shutil.rmtree(out / "DS" / "photos" / "grey")
    code = run_extract(
        [
            str(raw / "videos" / "face_a.mp4"),
            str(raw / "photos"),
            "--out",
            str(out),
            "--dataset",
            "DS",
            "--frames",
            "4",
        ]
    )
    assert code == 0
    assert kept.stat().st_mtime_ns == before  # untouched
    assert (out / "DS" / "photos" / "grey" / "000.png").is_file()  # redone
    assert len(pd.read_csv(out / "manifest.csv")) == 7
    assert len(pd.read_csv(out / "failures.csv")) == 0


def test_a_crash_mid_video_leaves_no_partial_output(raw: Path, tmp_path: Path, monkeypatch) -> None:
    calls = 0
    original = worker._write_png

    def failing(path: Path, rgb: np.ndarray) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full")
        original(path, rgb)

    monkeypatch.setattr(worker, "_write_png", failing)
    code = run_extract(
        [str(raw / "videos" / "face_a.mp4"), "--out", str(tmp_path), "--frames", "4"]
    )
    assert code == 1
    assert not (tmp_path / "custom" / "videos" / "face_a").exists()
    assert not list(tmp_path.rglob("*.png"))
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert failures.reason.tolist() == ["error"] and "disk full" in failures.detail[0]


def test_face_choice_largest_all_and_mask(raw: Path, tmp_path: Path) -> None:
    video = str(raw / "videos" / "two_faces.mp4")
    common = ["--frames", "2", "--sampling", "even"]
    assert run_extract([video, "--out", str(tmp_path / "largest"), *common]) == 0
    assert run_extract([video, "--out", str(tmp_path / "all"), "--face", "all", *common]) == 0
    masked = ["--face", "mask", "--mask-dir", str(raw / "masks")]
    assert run_extract([video, "--out", str(tmp_path / "mask"), *masked, *common]) == 0
    largest = pd.read_csv(tmp_path / "largest" / "manifest.csv")
    every = pd.read_csv(tmp_path / "all" / "manifest.csv")
    mask = pd.read_csv(tmp_path / "mask" / "manifest.csv")
    assert len(largest) == 2 and ((largest.box_x2 - largest.box_x1) > 100).all()
    assert len(every) == 4 and sorted(every.face_index) == [0, 0, 1, 1]
    assert (tmp_path / "all" / "custom" / "videos" / "two_faces" / "000_1.png").is_file()
    assert len(mask) == 2 and set(mask.selected_by) == {"mask"}
    assert ((mask.box_x1 > 450) & (mask.box_x2 - mask.box_x1 < 100)).all()  # the small face


def test_missing_mask_video_is_reported(raw: Path, tmp_path: Path) -> None:
    code = run_extract(
        [
            str(raw / "videos" / "face_a.mp4"),
            "--out",
            str(tmp_path),
            "--face",
            "mask",
            "--mask-dir",
            str(raw / "masks"),
        ]
    )
    assert code == 1
    assert pd.read_csv(tmp_path / "failures.csv").reason.tolist() == ["mask_missing"]


def test_parallel_workers_give_the_same_crops(
    raw: Path, first_run: tuple[Path, int], tmp_path: Path
) -> None:
    inputs = [str(raw / "videos" / "face_a.mp4"), str(raw / "photos")]
    assert (
        run_extract(
            [*inputs, "--out", str(tmp_path), "--dataset", "DS", "--frames", "4", "--workers", "2"]
        )
        == 0
    )
    parallel = pd.read_csv(tmp_path / "manifest.csv").sort_values("crop").reset_index(drop=True)
    serial = pd.read_csv(first_run[0] / "manifest.csv").sort_values("crop").reset_index(drop=True)
    assert parallel.crop.tolist() == serial.crop.tolist()
    np.testing.assert_allclose(parallel.left_eye_x, serial.left_eye_x, atol=0.05)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{raw}", "--face", "mask"], "--face mask needs --mask-dir"),
        (["{raw}", "--sampling", "stride"], "--sampling stride needs --stride"),
        (["{raw}", "--min-face-size", "5"], "--min-face-size must be >= 12"),
        (["{raw}", "--detector", "haar"], "unknown --detector 'haar'"),
    ],
)
def test_bad_arguments_exit_2(
    raw: Path, tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    argv = [a.replace("{raw}", str(raw / "videos")) for a in argv]
    assert run_extract([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv", [["--frames", "0"], ["--preset", "dlib"], ["--size", "3"], ["--threshold", "2"]]
)
def test_argparse_errors_exit_2(raw: Path, tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_extract([str(raw / "videos"), "--out", str(tmp_path), *argv])
    assert info.value.code == 2


def test_cli_choices_match_the_library() -> None:
    from dfdetect.cli import crops as crops_cli
    from dfdetect.faces.presets import PRESETS
    from dfdetect.faces.select import FACE_CHOICES
    from dfdetect.media.sampling import SAMPLING_MODES, SEEK_MODES

    assert extract_cli.FACE_CHOICES == FACE_CHOICES
    assert crops_cli.SAMPLING_MODES == SAMPLING_MODES
    assert crops_cli.SEEK_MODES == SEEK_MODES
    assert set(crops_cli.PRESETS) == set(PRESETS)


def test_output_inside_an_input_folder_is_not_read_back(raw: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    shutil.copytree(raw / "photos", photos)
    out = photos / "crops"
    assert run_extract([str(photos), "--out", str(out)]) == 0
    assert run_extract([str(photos), "--out", str(out)]) == 0  # crops are not new inputs
    assert len(pd.read_csv(out / "manifest.csv")) == 3
    assert not (out / "custom" / "000").exists()


def test_missing_detector_weights_stop_with_the_install_line(
    raw: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from dfdetect.errors import ModelNotFoundError
    from dfdetect.faces import mtcnn_nets

    def missing():
        raise ModelNotFoundError(
            "MTCNN weights not found; reinstall dfdetect: " + mtcnn_nets.INSTALL_HINT
        )

    monkeypatch.setattr(mtcnn_nets, "weights_file", missing)
    for workers in ("1", "2"):
        code = run_extract([str(raw / "photos"), "--out", str(tmp_path), "--workers", workers])
        assert code == 3  # the exit-code table: a model (here the face detector) cannot load
        assert "pip install --force-reinstall dfdetect" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.png"))


def test_missing_inputs_are_reported_as_not_found_and_the_rest_is_done(
    raw: Path, tmp_path: Path
) -> None:
    missing = [tmp_path / "gone.mp4", tmp_path / "no-such-folder", tmp_path / "none-*.mp4"]
    code = run_extract(
        [str(raw / "photos" / "alpha.png"), *map(str, missing), "--out", str(tmp_path / "o")]
    )
    assert code == 1
    failures = pd.read_csv(tmp_path / "o" / "failures.csv")
    assert sorted(failures.file) == sorted(map(str, missing))
    assert set(failures.reason) == {"not_found"}
    assert pd.read_csv(tmp_path / "o" / "manifest.csv").video.tolist() == ["alpha"]


def test_a_rerun_with_other_settings_is_refused_until_overwrite(
    first_run: tuple[Path, int], raw: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    video = out / "DS" / "videos" / "face_a"
    before = {p.name: p.stat().st_mtime_ns for p in video.iterdir()}
    common = [str(raw / "videos" / "face_a.mp4"), "--out", str(out), "--dataset", "DS"]
    for other, said in (
        (["--frames", "8"], "frames 4 then, 8 now"),
        (["--frames", "4", "--preset", "arcface"], "crop gend@256 then, arcface@256 now"),
        (["--frames", "4", "--sampling", "even"], 'sampling "max-spread" then, "even" now'),
    ):
        assert run_extract([*common, *other]) == 2
        err = capsys.readouterr().err
        assert f"{video} holds crops made with other settings: {said}" in err
        assert "use --overwrite" in err and err.count("\n") == 1
    assert {p.name: p.stat().st_mtime_ns for p in video.iterdir()} == before  # untouched

    assert run_extract([*common, "--frames", "8", "--overwrite"]) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest[manifest.video == "face_a"]) == 8
    assert len(list(video.glob("*.png"))) == 8
    assert run_extract([*common, "--frames", "8"]) == 0  # same settings now: kept, no work
    assert "already done (skipped) │ 1" in capsys.readouterr().out

    (video / "_extract.json").unlink()  # as made by a dfdetect that did not record them
    assert run_extract([*common, "--frames", "8"]) == 2
    assert "no readable settings record" in capsys.readouterr().err


def test_overwrite_removes_old_crops_even_when_no_new_ones_come(
    first_run: tuple[Path, int], raw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    photo = str(raw / "photos" / "alpha.png")
    args = ["--out", str(out), "--dataset", "DS", "--source", "photos", "--frames", "4"]
    assert run_extract([photo, *args, "--min-face-size", "900", "--overwrite"]) == 1
    assert not (out / "DS" / "photos" / "alpha").exists()  # no crop of the old settings left
    assert "alpha" not in set(pd.read_csv(out / "manifest.csv").video)
    assert pd.read_csv(out / "failures.csv").reason.tolist() == ["no_face"]
    assert not list(out.rglob(".*partial*"))


def test_symlinked_dataset_folders_are_followed_and_loops_reported(
    raw: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "real").symlink_to(raw / "photos", target_is_directory=True)
    (data / "loop").symlink_to(data, target_is_directory=True)
    out = tmp_path / "out"
    assert run_extract([str(data), "--out", str(out)]) == 1
    manifest = pd.read_csv(out / "manifest.csv")
    assert sorted(manifest.video) == ["alpha", "exif", "grey"]
    assert set(manifest.source) == {"real"}  # named as the link, not its target
    failures = pd.read_csv(out / "failures.csv")
    assert failures[["file", "reason"]].values.tolist() == [[str(data / "loop"), "symlink_loop"]]
