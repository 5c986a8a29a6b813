"""Formats people have, through ``dfdetect scan`` (a real subprocess) and ``dfdetect extract``
on the same folder: HEIC and AVIF photos, animated GIF/WebP/APNG as short videos, audio-only
files reported as having no video by both, same-name files kept apart, counts that agree."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dfdetect.cli import extract as extract_cli
from dfdetect.media.image import register_heif
from dfdetect.media.synthetic import background, face_frames
from test_scan_media import load_crop

N_ANIMATED = 6  # frames; the face appears from frame 1 on


def _audio(path: Path, codec: str) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=16000, layout="mono")
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sample_faces) -> Path:
    assert register_heif(), "pillow-heif is a dependency"
    root = tmp_path_factory.mktemp("formats")
    face = load_crop(sample_faces["real"][0])
    (still,) = face_frames([face], 1, face_width=110)
    Image.fromarray(still).save(root / "phone.heic", quality=95)
    Image.fromarray(still).save(root / "photo.avif", quality=90)
    Image.fromarray(still).save(root / "same.png")
    Image.fromarray(still).save(root / "same.jpg", quality=95)
    frames = [background(240, 320, 0), *face_frames([face], N_ANIMATED - 1, face_width=110)]
    pictures = [Image.fromarray(f) for f in frames]
    for name in ("anim.gif", "anim.webp", "anim.apng"):
        fmt = {"gif": "GIF", "webp": "WEBP", "apng": "PNG"}[name.split(".")[1]]
        pictures[0].save(
            root / name, format=fmt, save_all=True, append_images=pictures[1:], duration=80
        )
    with wave.open(str(root / "voice.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    _audio(root / "song.mp3", "mp3")
    _audio(root / "memo.m4a", "aac")
    return root


@pytest.fixture(scope="module")
def scanned(folder, tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("scan")
    out = tmp / "r.jsonl"
    cmd = [sys.executable, "-m", "dfdetect", "scan", str(folder), "--model", "tiny-random"]
    cmd += ["--db", str(tmp / "db.sqlite"), "--out", str(out), "--quiet", "--frames", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 1, done.stderr  # the audio files have no video
    return {Path(d["path"]).name: d for d in map(json.loads, out.read_text().splitlines())}


def test_heic_and_avif_photos_are_scanned(scanned):
    for name in ("phone.heic", "photo.avif"):
        assert scanned[name]["status"] == "ok", scanned[name]["error"]
        assert scanned[name]["kind"] == "image" and len(scanned[name]["faces"]) == 1


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.apng"])
def test_animated_images_are_scanned_as_short_videos(scanned, name):
    result = scanned[name]
    assert result["status"] == "ok", result["error"]  # the first frame has no face
    assert result["kind"] == "video" and result["media"]["n_frames"] == N_ANIMATED
    assert [f["index"] for f in result["frames"]] == list(range(N_ANIMATED))
    assert [f["time_s"] for f in result["frames"]] == pytest.approx(
        [0.08 * i for i in range(N_ANIMATED)]
    )
    assert {f["frame_index"] for f in result["faces"]} == set(range(1, N_ANIMATED))


def test_scan_and_extract_agree_on_the_same_folder(folder, scanned, tmp_path):
    out = tmp_path / "crops"
    parser = argparse.ArgumentParser()
    extract_cli.add_arguments(parser)
    args = [str(folder), "--out", str(out), "--frames", "8", "--sampling", "even"]
    assert extract_cli.run(parser.parse_args(args)) == 1  # the audio files
    failures = pd.read_csv(out / "failures.csv")
    frames_without_face = failures[failures.frame_index.notna()]
    assert set(frames_without_face.frame_index) == {0} and len(frames_without_face) == 3
    failures = failures[failures.frame_index.isna()]
    failed = dict(zip(failures.file.map(lambda f: Path(f).name), failures.reason, strict=True))
    audio = {"voice.wav", "song.mp3", "memo.m4a"}
    assert failed == dict.fromkeys(audio, "no_video_stream")
    assert {n: scanned[n]["error"]["reason"] for n in audio} == failed
    manifest = pd.read_csv(out / "manifest.csv")
    assert sorted(set(manifest.video)) == sorted(
        ["phone", "photo", "same", "same.png", "anim", "anim.gif", "anim.webp"]
    )
    source_files = set(manifest.source_file.map(lambda f: Path(f).name))
    assert source_files | audio == set(scanned)  # every file scan saw, each once
    gif = manifest[manifest.source_file.str.endswith("anim.gif")]
    assert sorted(gif.frame_index) == list(range(1, N_ANIMATED))
    report = json.loads((out / "failures.json").read_text())
    assert report["by_reason"] == {"no_video_stream": 3} and report["files"] == 3
