"""A raw FF++ tree (real PyAV videos of sample faces) -> extraction -> the adapter's crops."""

from __future__ import annotations

import numpy as np

from dfdetect.data import FAKE, REAL, create_dataset
from dfdetect.data.provenance import recorded_preset
from dfdetect.extract.datasets import extract_raw
from dfdetect.extract.options import ExtractOptions
from dfdetect.media import load_image
from dfdetect.media.synthetic import paste_face, write_video


def _video(path, face, n=6):
    frames = []
    for i in range(n):
        frame = np.full((240, 320, 3), 90, np.uint8)
        paste_face(frame, face, scale=0.6, center=(160 + 2 * i, 120))
        frames.append(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, frames, fps=25.0)


def test_raw_ff_videos_are_extracted_into_the_tree_the_adapter_reads(sample_faces, tmp_path):
    raw = tmp_path / "FaceForensics++"
    _video(
        raw / "original_sequences/youtube/c23/videos/000.mp4", load_image(sample_faces["real"][0])
    )
    _video(
        raw / "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
        load_image(sample_faces["fake"][0]),
    )
    options = ExtractOptions(out=tmp_path / "crops", frames=2, sampling="even", size=64)
    crops, failures = extract_raw(create_dataset("ff++", raw), options)
    assert failures == [] and crops == tmp_path / "crops" / "FF++"
    samples = create_dataset("ff++", crops).samples()
    assert sorted({(s.source, s.video, s.label) for s in samples}) == [
        ("Deepfakes", "000_003", FAKE),
        ("youtube", "000", REAL),
    ]
    assert len(samples) == 4  # 2 frames per video
    fake = next(s for s in samples if s.label == FAKE)
    assert fake.pair == "FF++/youtube/000"
    assert load_image(fake.path).shape == (64, 64, 3)
    preset = recorded_preset(samples)  # what a model trained on these crops records
    assert preset["name"] == "gend" and preset["size"] == 64


def test_prepare_refuses_crops_of_other_settings_in_one_line(sample_faces, tmp_path, capsys):
    from dfdetect.cli import main

    raw = tmp_path / "FaceForensics++"
    face = load_image(sample_faces["real"][0])
    _video(raw / "original_sequences/youtube/c23/videos/000.mp4", face)
    argv = ["prepare", "ff++", str(raw), "--out", str(tmp_path / "crops"), "--preset", "arcface"]
    assert main([*argv, "--frames", "1"]) == 0
    capsys.readouterr()
    assert main([*argv, "--frames", "2"]) == 2  # the first run's crops are not passed off as new
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("dfdetect prepare: error: ") and "--overwrite" in line
    assert main([*argv, "--frames", "2", "--overwrite"]) == 0
    assert len(create_dataset("ff++", tmp_path / "crops" / "FF++").samples()) == 2
