"""Test media for the scan tests (sample faces pasted into generated frames and videos by
:mod:`dfdetect.media.synthetic`), and checks that it makes what the other scan tests rely on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dfdetect.media import VideoReader
from dfdetect.media.synthetic import background, face_video


def load_crop(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def test_face_video_has_the_frames_and_the_face(tmp_path, sample_faces):
    crop = load_crop(sample_faces["real"][0])
    path = face_video(tmp_path / "v.mp4", [crop], n_frames=6, fps=10)
    with VideoReader(path) as reader:
        assert (reader.n_frames, reader.width, reader.height) == (6, 320, 240)
        ((_, time_s, frame),) = list(reader.read([5]))
    assert abs(time_s - 0.5) < 1e-6
    # the face was pasted centred at x = 160 + 10 px by frame 5: it differs from the background
    diff = np.abs(frame.astype(int) - background(240, 320).astype(int)).mean(axis=2)
    assert diff[120, 170] > 20 and diff[10, 10] < 10
