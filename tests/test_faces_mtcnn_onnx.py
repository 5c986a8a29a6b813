"""MTCNN with its networks on ONNX Runtime (graphs cached by the weights' hash) against the torch
networks: the same faces on real sample faces and generated frames; runtime selection and the
fallback to torch without onnxruntime."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dfdetect.errors import ModelNotFoundError
from dfdetect.faces import create_face_detector, mtcnn_nets, mtcnn_onnx
from dfdetect.faces.mtcnn import crop_boxes
from dfdetect.faces.mtcnn_onnx import cached_graphs, graphs_key
from dfdetect.faces.mtcnn_resize import area_resize, halve
from dfdetect.media import load_image
from dfdetect.media.synthetic import background, face_frames, paste_face
from dfdetect.runtime.export import ExportError

pytest.importorskip("onnxruntime")

# Measured on the 32 frames of benchmarks/bench_mtcnn.py (720p and 1080p): boxes and landmarks
# within 0.0017 px, scores within 1.2e-7. The networks' float arithmetic differs (ONNX Runtime
# vs torch, PReLU split), nothing else: the pyramid, crops and NMS are computed identically.
PIXEL_TOLERANCE = 0.01
SCORE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def detectors():
    return {
        runtime: create_face_detector("mtcnn", device="cpu", min_face_size=30, runtime=runtime)
        for runtime in ("torch", "onnx")
    }


@pytest.fixture(scope="module")
def faces(sample_faces: dict[str, list[Path]]) -> list[np.ndarray]:
    return [load_image(p) for p in (*sample_faces["real"][:2], *sample_faces["fake"][:2])]


def _assert_same_faces(got, ref) -> None:
    assert [len(f) for f in got] == [len(f) for f in ref]
    for found, expected in zip(got, ref, strict=True):
        for a, b in zip(found, expected, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=PIXEL_TOLERANCE)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=PIXEL_TOLERANCE)
            assert a.score == pytest.approx(b.score, abs=SCORE_TOLERANCE)
            assert a.box.dtype == a.landmarks.dtype == np.float32


def test_auto_is_onnx_on_the_cpu(detectors) -> None:
    assert create_face_detector("mtcnn", device="cpu").runtime == "onnx"
    assert detectors["torch"].runtime == "torch"


def test_onnx_finds_the_faces_torch_finds_on_sample_faces(detectors, faces) -> None:
    frames = []
    for i, face in enumerate(faces):
        frame = background(360, 640, seed=i)
        paste_face(frame, face, scale=0.4 + 0.3 * i, angle=10 * i - 15, center=(220 + 60 * i, 180))
        paste_face(frame, faces[-1 - i], scale=0.25, center=(560, 90))  # a ~60 px face
        frames.append(frame)
    ref = detectors["torch"].detect(frames)
    assert sum(len(f) for f in ref) >= 6
    _assert_same_faces(detectors["onnx"].detect(frames), ref)  # one batch
    _assert_same_faces([detectors["onnx"].detect([f])[0] for f in frames], ref)


def test_onnx_equals_torch_on_generated_frames(detectors, faces) -> None:
    blocky = np.random.default_rng(1).integers(60, 160, (45, 80, 3), dtype=np.uint8)
    blocky = np.ascontiguousarray(blocky.repeat(8, axis=0).repeat(8, axis=1))  # 640x360
    paste_face(blocky, faces[0], scale=0.8, angle=5, center=(400, 200))
    frames = [
        *face_frames(faces[:2], 2, size=(480, 270), face_width=110),
        blocky,  # hundreds of PNet proposals reach RNet
        np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8),
        np.full((200, 200, 3), 128, np.uint8),
    ]
    ref = [detectors["torch"].detect([f])[0] for f in frames]
    assert [len(f) for f in ref] == [2, 2, 1, 0, 0]
    _assert_same_faces([detectors["onnx"].detect([f])[0] for f in frames], ref)


def test_pyramid_and_crops_are_the_torch_ones() -> None:
    image = background(301, 500, seed=3).astype(np.float32)
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None]
    for size in ((90, 150), (64, 107), (301, 500), (3, 4)):  # torch's windows, not OpenCV's
        ref = F.interpolate(pixels, size=size, mode="area")[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(area_resize(image, size), ref, atol=2e-3)
    ref = F.avg_pool2d(pixels, 2, ceil_mode=True)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(halve(image), ref, atol=1e-4)  # odd height: last row alone
    boxes = torch.tensor([[10, 20, 50, 60], [-30, 100, 170, 300], [400, 250, 520, 330]]).float()
    groups = torch.zeros(3, dtype=torch.long)
    pooled = [pixels]  # torch's own 2x halvings, as on a GPU
    for _ in range(3):
        pooled.append(F.avg_pool2d(pooled[-1], 2, ceil_mode=True))
    for size in (24, 48):
        ref = crop_boxes(list(pooled), boxes, groups, size)
        np.testing.assert_allclose(crop_boxes([pixels], boxes, groups, size), ref, atol=1e-3)


def test_graphs_are_exported_once_and_keyed_by_the_weights(tmp_path, monkeypatch) -> None:
    paths = cached_graphs(tmp_path)
    assert sorted(paths) == ["onet", "pnet", "rnet"]
    assert all(p.is_file() and p.parent.parent == tmp_path / "mtcnn" for p in paths.values())
    monkeypatch.setattr(mtcnn_onnx, "_export", lambda *args: pytest.fail("exported again"))
    assert cached_graphs(tmp_path) == paths
    weights = mtcnn_nets.weights_file()
    changed = tmp_path / "mtcnn.safetensors"
    changed.write_bytes(weights.read_bytes())
    assert graphs_key(changed) == graphs_key(weights)
    with changed.open("ab") as file:
        file.write(b"\0")
    assert graphs_key(changed) != graphs_key(weights)


def test_without_onnxruntime_auto_falls_back_to_torch(monkeypatch, faces) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "onnxruntime" else find_spec(name, *args),
    )
    detector = create_face_detector("mtcnn", device="cpu")
    assert detector.runtime == "torch"
    frame = background(240, 320)
    paste_face(frame, faces[0], scale=0.6)
    assert len(detector.detect([frame])[0]) == 1
    with pytest.raises(ModelNotFoundError, match=r'pip install "dfdetect\[onnx\]"'):
        create_face_detector("mtcnn", device="cpu", runtime="onnx")


def test_graphs_that_cannot_be_made_leave_auto_on_torch(tmp_path, monkeypatch) -> None:
    def no_onnx(*args):
        raise torch.onnx.OnnxExporterError("Module onnx is not installed!")

    monkeypatch.setenv("DFDETECT_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setattr(mtcnn_onnx, "_export", no_onnx)
    with pytest.warns(UserWarning, match="onnx is not installed.*running MTCNN in torch"):
        assert create_face_detector("mtcnn", device="cpu").runtime == "torch"
    with pytest.raises(ExportError, match="could not be exported"):
        create_face_detector("mtcnn", device="cpu", runtime="onnx")


def test_runtime_is_validated() -> None:
    with pytest.raises(ValueError, match="runtime must be one of"):
        create_face_detector("mtcnn", device="cpu", runtime="tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU"):
        create_face_detector("mtcnn", device="meta", runtime="onnx")
