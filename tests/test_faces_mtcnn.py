"""MTCNN on real faces (the shared samples pasted into frames): boxes, landmarks, batching,
size and confidence limits, and the registry."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdetect.errors import ModelNotFoundError
from dfdetect.faces import create_face_detector, get_preset, mtcnn_nets
from dfdetect.faces.mtcnn_nets import load_mtcnn_nets
from dfdetect.media import load_image
from dfdetect.media.synthetic import paste_face

# Measured on all 32 shared samples (aligned by the authors with another detector): MTCNN's
# landmarks sit within 9.1 px of the template in the 256 crop, 0.14 of the eye distance.
LANDMARK_TOLERANCE = 0.2  # of the eye distance
# sha256 over (name, bytes) of every tensor in facenet-pytorch 2.6.0's pnet/rnet/onet.pt, keys
# sorted per network: the shipped safetensors file holds exactly those weights.
FACENET_PYTORCH_WEIGHTS = "72974a1ce1a508b5417d88d961f558bb444b1be2b75c8ea846f68deecfc0e40f"


@pytest.fixture(scope="module")
def detector():
    return create_face_detector("mtcnn", device="cpu", min_face_size=40)


@pytest.fixture(scope="module")
def faces(sample_faces: dict[str, list[Path]]) -> list[np.ndarray]:
    picks = [
        sample_faces["real"][0],
        sample_faces["real"][-1],
        sample_faces["fake"][0],
        sample_faces["fake"][-1],
    ]
    return [load_image(p) for p in picks]


def _frame(face: np.ndarray, **paste) -> tuple[np.ndarray, np.ndarray]:
    canvas = np.full((360, 640, 3), 110, np.uint8)
    return canvas, paste_face(canvas, face, **paste)


def _expected_landmarks(matrix: np.ndarray) -> np.ndarray:
    return get_preset("gend").destination(256) @ matrix[:, :2].T + matrix[:, 2]


def test_finds_each_face_with_its_landmarks(detector, faces) -> None:
    frames, matrices = zip(
        *(
            _frame(f, scale=0.9, angle=8 * i, center=(200 + 60 * i, 180))
            for i, f in enumerate(faces)
        ),
        strict=True,
    )
    results = detector.detect(list(frames))
    for found, matrix in zip(results, matrices, strict=True):
        assert len(found) == 1
        face = found[0]
        assert face.score > 0.95
        assert face.box.dtype == np.float32 and face.landmarks.shape == (5, 2)
        expected = _expected_landmarks(matrix)
        eye_distance = np.linalg.norm(expected[1] - expected[0])
        error = np.linalg.norm(face.landmarks - expected, axis=1).max()
        assert error < LANDMARK_TOLERANCE * eye_distance
        x1, y1, x2, y2 = face.box
        assert (face.landmarks[:, 0] > x1).all() and (face.landmarks[:, 0] < x2).all()
        assert (face.landmarks[:, 1] > y1).all() and (face.landmarks[:, 1] < y2).all()
        assert 0.5 * eye_distance < face.width < 4 * eye_distance


def test_batch_equals_one_by_one_and_keeps_order(detector, faces) -> None:
    a, _ = _frame(faces[0], center=(160, 180))
    b, _ = _frame(faces[1], scale=0.7, center=(480, 200))
    small = np.full((200, 300, 3), 110, np.uint8)
    paste_face(small, faces[2], scale=0.6)
    batched = detector.detect([a, small, b])
    single = [detector.detect([img])[0] for img in (a, small, b)]
    for got, ref in zip(batched, single, strict=True):
        assert len(got) == len(ref) == 1
        np.testing.assert_allclose(got[0].box, ref[0].box, atol=1e-2)
        np.testing.assert_allclose(got[0].landmarks, ref[0].landmarks, atol=1e-2)
    assert batched[0][0].box[0] < 320 < batched[2][0].box[0]


def test_two_faces_min_size_and_threshold(faces) -> None:
    canvas = np.full((360, 640, 3), 110, np.uint8)
    paste_face(canvas, faces[0], scale=1.0, center=(180, 180))
    paste_face(canvas, faces[2], scale=0.3, center=(500, 180))  # a face about 50 px wide
    found = create_face_detector(min_face_size=30, device="cpu").detect([canvas])[0]
    assert len(found) == 2
    assert found[0].score >= found[1].score
    assert sorted(f.width > 100 for f in found) == [False, True]
    only_big = create_face_detector(min_face_size=80, device="cpu").detect([canvas])[0]
    assert len(only_big) == 1 and only_big[0].width > 100
    between = (found[0].score + found[1].score) / 2
    assert found[0].score > found[1].score
    strict = create_face_detector(min_face_size=30, threshold=between, device="cpu").detect(
        [canvas]
    )[0]
    assert [f.score for f in strict] == pytest.approx([found[0].score])


def test_no_face_in_flat_or_noise_frames(detector) -> None:
    rng = np.random.default_rng(0)
    frames = [
        np.full((240, 320, 3), 128, np.uint8),
        rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
    ]
    assert detector.detect(frames) == [[], []]
    assert detector.detect([]) == []
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect([np.zeros((10, 10), np.uint8)])


def test_weights_are_the_shipped_ones_and_missing_weights_say_how_to_reinstall(
    monkeypatch,
) -> None:
    nets = load_mtcnn_nets()
    assert sum(p.numel() for net in nets for p in net.parameters()) == 6_632 + 100_178 + 389_040
    digest = hashlib.sha256()  # of facenet-pytorch 2.6.0's data/{pnet,rnet,onet}.pt tensors
    for name, net in zip(mtcnn_nets.NET_NAMES, nets, strict=True):
        state = net.state_dict()
        for key in sorted(state):
            digest.update(f"{name}.{key}".encode())
            digest.update(state[key].numpy().tobytes())
    assert digest.hexdigest() == FACENET_PYTORCH_WEIGHTS
    assert "facenet_pytorch" not in sys.modules
    monkeypatch.setattr(mtcnn_nets, "WEIGHTS_FILE", "weights/none.safetensors")
    with pytest.raises(ModelNotFoundError, match=r"reinstall it: pip install --force-reinstall"):
        load_mtcnn_nets()


def test_registry_names() -> None:
    with pytest.raises(KeyError, match="known: \\['mtcnn', 'scrfd'\\]"):
        create_face_detector("haar")
    with pytest.raises(ValueError, match="min_face_size"):
        create_face_detector(min_face_size=5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(detector, faces) -> None:
    frames = [_frame(f, center=(320, 180))[0] for f in faces]
    cpu = detector.detect(frames)
    gpu = create_face_detector(device="cuda").detect(frames)
    for a, b in zip(cpu, gpu, strict=True):
        assert len(a) == len(b) == 1
        np.testing.assert_allclose(a[0].landmarks, b[0].landmarks, atol=0.5)
