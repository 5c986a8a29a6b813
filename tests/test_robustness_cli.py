"""`dfdetect robustness` end to end (in a subprocess where it matters): crops and frames stages
on the FF++ and generic folder layouts, two models in one table, cached re-runs, bad arguments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfdetect.cli import main as cli
from dfdetect.data.toy import blend_artifact, make_toy_dataset, video_folders
from dfdetect.media import load_image
from dfdetect.media.synthetic import face_video

REPO = Path(__file__).resolve().parents[1]


def robustness(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "dfdetect", "robustness", "--bootstrap", "50", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def ff_crops(samples_dir, tmp_path_factory) -> Path:
    return make_toy_dataset(video_folders(samples_dir), tmp_path_factory.mktemp("ff"), size=64)


@pytest.fixture(scope="module")
def raw_videos(sample_faces, tmp_path_factory) -> dict[str, Path]:
    """The same two real and two fake face videos as a generic folder (``real``/``fake``) and
    as a raw FF++ tree, plus an empty video in the folder layout."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("raw")
    folder, ff = root / "folder", root / "ff"
    for k, path in enumerate(sample_faces["real"][:2]):
        real = load_image(path)
        fake = blend_artifact(real, rng)
        for source, face, ff_dir, name in (
            ("real", real, "original_sequences/youtube", f"{k:03d}"),
            ("fake", fake, "manipulated_sequences/Deepfakes", f"{k:03d}_{k + 1:03d}"),
        ):
            (folder / source).mkdir(parents=True, exist_ok=True)
            video = face_video(folder / source / f"v{k}.mp4", [face], n_frames=6, face_width=120)
            target = ff / ff_dir / "c23" / "videos" / f"{name}.mp4"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(video, target)
    (folder / "fake" / "empty.mp4").touch()
    return {"folder": folder, "ff": ff}


def test_crops_stage_on_ff_layout_two_models_and_cache(ff_crops, tmp_path):
    out = tmp_path / "out"
    args = ["--model", "tiny-random", "--model", "tiny-random", "--data", f"ff++={ff_crops}@test"]
    args += ["--perturb", "GB:5", "JPEGQ:1,5", "--out", str(out)]
    first = robustness(*args)
    assert first.returncode == 0, first.stderr
    assert "| tiny-random | FF++ |" in first.stdout and "| tiny-random#2 | FF++ |" in first.stdout
    assert "[8/8] tiny-random#2 | FF++ | JPEGQ-5: 32 crops" in first.stderr
    rows = pd.read_csv(out / "robustness.csv")
    assert len(rows) == 2 * 4 * 2 * 7  # models x cells x (frame, video) x metrics
    assert set(rows["perturbation"]) == {"clean", "GB", "JPEGQ"}
    video = rows.query("metric_level == 'video' and metric == 'auroc'")
    one, two = (part["value"].to_numpy() for _, part in video.groupby("model"))
    np.testing.assert_array_equal(one, two)  # the same model twice: the same perturbed pixels
    table = (out / "robustness.md").read_text()
    assert "| tiny-random#2 | JPEGQ | 5 | quality=10 | 8 |" in table
    for name in ("auroc_GB.png", "auroc_JPEGQ.png", "auroc_vs_level.png"):
        assert (out / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    clean = load_image(out / "examples" / "clean.png")
    blurred = load_image(out / "examples" / "GB" / "5.png")
    assert clean.shape == blurred.shape == (64, 64, 3) and not np.array_equal(clean, blurred)
    assert (out / "examples" / "JPEGQ" / "1.png").is_file()
    settings = json.loads((out / "robustness.json").read_text())["settings"]
    assert settings["stage"] == "crops" and settings["n_boot"] == 50

    again = robustness(*args)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("(cached)") == 8
    assert (out / "robustness.csv").read_text() == rows.to_csv(index=False)


def test_crops_stage_on_the_generic_folder_layout(samples_dir, tmp_path):
    root = tmp_path / "crops"
    videos = [
        ("real", "FF/real/000"),
        ("fake", "FF/DF/000_003"),
        ("fake", "FF/NT/000_003"),
        ("real", "CDFv2/Celeb-real/id0_0000"),
    ]
    for label, video in videos:
        shutil.copytree(samples_dir / video, root / label / video.replace("/", "_"))
    stale = tmp_path / "out" / "examples" / "GB" / "3.png"  # a former run's perturbation
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    code = cli(
        ["robustness", "--model", "tiny-random", "--data", str(root), "--perturb", "VC:5", "CS:5",
         "--frames", "2", "--bootstrap", "50", "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    assert code == 0
    rows = json.loads((tmp_path / "out" / "robustness.json").read_text())["cells"]
    assert [(r["perturbation"], r["level"], r["n_videos"], r["n_frames"]) for r in rows] == [
        ("clean", 0, 4, 8),
        ("VC", 5, 4, 8),
        ("CS", 5, 4, 8),
    ]
    grey = load_image(tmp_path / "out" / "examples" / "CS" / "5.png").astype(int)
    assert (grey.max(axis=2) - grey.min(axis=2)).max() <= 1
    assert not stale.exists()


@pytest.mark.parametrize("layout", ["folder", "ff"])
def test_frames_stage_detects_faces_in_perturbed_source_videos(raw_videos, layout, tmp_path):
    data = str(raw_videos["folder"]) if layout == "folder" else f"ff++={raw_videos['ff']}@all"
    out = tmp_path / "out"
    result = robustness(
        "--model", "tiny-random", "--data", data, "--stage", "frames", "--frames", "3",
        "--perturb", "VC:5", "CS:5", "BW:5", "--out", str(out), "--quiet",
    )  # fmt: skip
    # the folder layout's zero-byte empty.mp4 is dropped: named with its reason, exit 1
    assert result.returncode == (1 if layout == "folder" else 0), result.stderr
    report = json.loads((out / "robustness.json").read_text())
    rows = {r["perturbation"]: r for r in report["cells"]}
    data = report["data"][0]
    if layout == "folder":
        assert "empty.mp4: zero_byte" in result.stderr and "--allow-missing" in result.stderr
        assert data["video_unreadable"] == ["folder/fake/empty"] and data["scored"] == 4
        assert "dropped: 1 video unreadable" in result.stdout
    else:
        assert data["listed"] == data["scored"] == 4 and "dropped: none" in result.stdout
    assert rows["clean"]["faces_sampled"] == 12 and rows["clean"]["faces_found"] == 12
    assert rows["clean"]["n_videos"] == 4 and rows["clean"]["n_frames"] == 12
    assert rows["clean"]["unreadable_crops"] == (1 if layout == "folder" else 0)  # empty.mp4
    for code in ("VC", "CS", "BW"):
        assert rows[code]["faces_lost"] == 12 - rows[code]["faces_found"]
        assert rows[code]["faces_found"] >= 10  # mild enough for MTCNN on these faces
    assert "faces lost" in (out / "robustness.md").read_text()
    grey = load_image(out / "examples" / "CS" / "5.png").astype(int)
    assert (grey.max(axis=2) - grey.min(axis=2)).max() <= 1  # the frame was made grey
    clean = load_image(out / "examples" / "clean.png")
    assert clean.shape == (256, 256, 3)  # aligned with the model's crop preset (gend, 256 px)
    crops = list((out / "cache" / "frames").glob("*/VC-5/*/*/*.png"))
    assert len(crops) == rows["VC"]["faces_found"]


def test_bad_arguments_and_layouts(ff_crops, tmp_path, capsys):
    base = ["robustness", "--model", "tiny-random", "--quiet", "--out", str(tmp_path / "out")]
    assert cli([*base, "--data", str(ff_crops), "--perturb", "blur"]) == 2
    assert "unknown perturbation 'blur'" in capsys.readouterr().err
    frames = ["--stage", "frames", "--perturb", "GB:1"]
    assert cli([*base, "--data", f"ff++={ff_crops}@test", *frames]) == 2
    err = capsys.readouterr().err
    assert "--stage frames needs the source videos" in err and str(ff_crops) in err
    assert cli([*base, "--data", f"ff++={ff_crops}@test", "--bootstrap", "-1"]) == 2


def test_model_names():
    from dfdetect.cli.robustness import named_models

    assert named_models(["tiny-random", "a=runs/x", "tiny-random", "a=runs/y"]) == [
        ("tiny-random", "tiny-random"),
        ("a", "runs/x"),
        ("tiny-random#2", "tiny-random"),
        ("a#2", "runs/y"),
    ]
