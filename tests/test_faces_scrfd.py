"""The SCRFD detector on small ONNX graphs with known outputs, laid out as InsightFace's
det_10g.onnx: decoding, threshold, NMS, letterbox back-mapping, weights and licence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.faces import create_face_detector, crop_faces, get_preset
from dfdetect.faces import scrfd as scrfd_module
from dfdetect.faces.scrfd import SCRFDDetector, anchor_centres, letterbox

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

STRIDES = (8, 16, 32)
ROWS = {8: 80 * 80 * 2, 16: 40 * 40 * 2, 32: 20 * 20 * 2}  # a 640x640 input, 2 anchors

# Planted anchors: (stride, grid row, grid column, anchor) -> score, box distances and keypoint
# offsets (left, top, right, bottom; 5 x (dx, dy)), in units of the stride. The 960x480 test
# image is letterboxed to 640x320 (scale 2/3), so image pixels = input pixels x 1.5.
FACE_A = (8, 20, 30, 1, 0.9, (5, 6, 7, 8), (-2, -1, 2, -1, 0, 1, -1.5, 3, 1.5, 3))
# centre (240, 160): box (200, 112, 296, 224) -> image (300, 168, 444, 336)
FACE_B = (
    32,
    5,
    10,
    0,
    0.7,
    (1, 1.5, 2, 2.5),
    # GenD's template x 100 image pixels about the nose at (480, 240), in stride-32 input units
    tuple(v / 48 for v in (-16, -18, 16, -18, 0, 0, -13, 18, 13, 18)),
)
# centre (320, 160): box (288, 112, 384, 240) -> image (432, 168, 576, 360)
FACE_C = (16, 10, 15, 0, 0.8, (2.5, 3, 3.5, 3.5), (0,) * 10)  # overlaps A, lower score
FACE_D = (16, 15, 5, 1, 0.45, (1, 1, 1, 1), (0,) * 10)  # below 0.5; a 48x48 box in the image
BOX_A = (300, 168, 444, 336)
KPS_A = ((336, 228), (384, 228), (360, 252), (342, 276), (378, 276))
BOX_B = (432, 168, 576, 360)
KPS_B = ((464, 222), (496, 222), (480, 240), (467, 258), (493, 258))
BOX_D = (96, 336, 144, 384)


def planted_outputs(faces=(FACE_A, FACE_B, FACE_C, FACE_D), *, batched: bool = False):
    """The 9 outputs (scores, boxes, keypoints per stride 8/16/32) with ``faces`` planted among
    low-score anchors holding random distances."""
    rng = np.random.default_rng(0)
    scores = {s: rng.uniform(0, 0.3, (ROWS[s], 1)).astype(np.float32) for s in STRIDES}
    boxes = {s: rng.uniform(0, 4, (ROWS[s], 4)).astype(np.float32) for s in STRIDES}
    kps = {s: rng.uniform(-4, 4, (ROWS[s], 10)).astype(np.float32) for s in STRIDES}
    for stride, row, col, anchor, score, distances, offsets in faces:
        index = (row * (640 // stride) + col) * 2 + anchor
        scores[stride][index] = score
        boxes[stride][index] = distances
        kps[stride][index] = offsets
    outputs = [scores[s] for s in STRIDES] + [boxes[s] for s in STRIDES]
    outputs += [kps[s] for s in STRIDES]
    return [out[None] for out in outputs] if batched else outputs


def write_graph(path: Path, outputs: list[np.ndarray], input_shape=(1, 3, "?", "?")) -> Path:
    """An ONNX graph with det_10g's input (``input.1``, NCHW, dynamic size) whose outputs are
    the constant ``outputs``."""
    from onnx import TensorProto, helper, numpy_helper

    names = [f"out{i}" for i in range(len(outputs))]
    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(out, f"{name}_v"))
        for name, out in zip(names, outputs, strict=True)
    ]
    graph = helper.make_graph(
        nodes,
        "scrfd_test",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, list(input_shape))],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, list(out.shape))
            for name, out in zip(names, outputs, strict=True)
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_batched_graph(path: Path, outputs: list[np.ndarray]) -> Path:
    """A graph with a dynamic batch axis whose outputs are ``outputs`` (each (rows, cols))
    repeated for every image of the batch: (N, rows, cols)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Shape", ["input.1"], ["shape"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.int64([0]))),
        helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.int64([1]))),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
    ]
    infos = []
    for i, out in enumerate(outputs):
        sizes = numpy_helper.from_array(np.int64(out.shape), f"sizes{i}")
        nodes += [
            helper.make_node("Constant", [], [f"c{i}"], value=numpy_helper.from_array(out[None])),
            helper.make_node("Constant", [], [f"s{i}"], value=sizes),
            helper.make_node("Concat", ["batch", f"s{i}"], [f"target{i}"], axis=0),
            helper.make_node("Expand", [f"c{i}", f"target{i}"], [f"out{i}"]),
        ]
        infos.append(helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, ["N", *out.shape]))
    graph = helper.make_graph(
        nodes,
        "scrfd_batched_test",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, "?", "?"])],
        infos,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    return write_graph(tmp_path_factory.mktemp("scrfd") / "det_10g.onnx", planted_outputs())


@pytest.fixture()
def image() -> np.ndarray:
    return np.full((480, 960, 3), 90, np.uint8)


def _detector(path: Path, **options) -> SCRFDDetector:
    return create_face_detector("scrfd", model=path, device="cpu", **options)


def test_letterbox_and_normalisation_as_insightface() -> None:
    image = np.zeros((2, 4, 3), np.uint8)
    image[...] = (255, 0, 128)  # RGB
    blob, scale = letterbox(image, (8, 8))
    assert blob.shape == (1, 3, 8, 8) and blob.dtype == np.float32 and scale == 2.0
    # top-left 8x4 holds the image, (x - 127.5) / 128, channels in RGB order
    np.testing.assert_array_equal(
        blob[0, :, :4, :].reshape(3, -1).max(1), [0.99609375, -0.99609375, 0.00390625]
    )
    np.testing.assert_array_equal(
        blob[0, :, :4, :].reshape(3, -1).min(1), [0.99609375, -0.99609375, 0.00390625]
    )
    assert (blob[0, :, 4:, :] == -0.99609375).all()  # black padding below
    tall, scale = letterbox(np.full((1000, 500, 3), 255, np.uint8), (640, 640))
    assert scale == 0.64 and (tall[0, :, :, :320] > 0).all() and (tall[0, :, :, 320:] < 0).all()
    # sides are truncated: 3x7 -> 640 x int(640 * 3 / 7) = 274 rows
    odd, scale = letterbox(np.full((3, 7, 3), 255, np.uint8), (640, 640))
    assert scale == 274 / 3 and (odd[0, 0, 273] > 0).all() and (odd[0, 0, 274] < 0).all()


def test_anchor_centres_row_major_with_repeated_anchors() -> None:
    centres = anchor_centres(2, 3, 8, 2)
    expected = [[0, 0], [8, 0], [16, 0], [0, 8], [8, 8], [16, 8]]
    np.testing.assert_array_equal(centres, np.repeat(expected, 2, axis=0))
    assert centres.dtype == np.float32


@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_decodes_known_outputs_to_image_pixels(tmp_path, image, batched) -> None:
    path = write_graph(tmp_path / "det.onnx", planted_outputs(batched=batched))
    detector = _detector(path)
    assert (detector.input_name, detector.input_size) == ("input.1", (640, 640))
    assert (detector.threshold, detector.nms_threshold, detector.min_face_size) == (0.5, 0.4, 40)
    (faces,) = detector.detect([image])
    # C overlaps A with a lower score: suppressed; D is below the 0.5 threshold
    assert [round(f.score, 6) for f in faces] == [0.9, 0.7]
    a, b = faces
    np.testing.assert_allclose(a.box, BOX_A, atol=1e-4)
    np.testing.assert_allclose(a.landmarks, KPS_A, atol=1e-4)
    np.testing.assert_allclose(b.box, BOX_B, atol=1e-4)
    np.testing.assert_allclose(b.landmarks, KPS_B, atol=1e-4)
    assert a.box.dtype == np.float32 and a.landmarks.shape == (5, 2)


def test_graphs_with_a_batch_axis_run_batches(tmp_path, image, monkeypatch) -> None:
    path = write_batched_graph(tmp_path / "batched.onnx", planted_outputs())
    detector = _detector(path, batch_size=2)
    assert detector.batch_size == 2
    runs = []
    run = detector.session.run
    monkeypatch.setattr(
        detector.session,
        "run",
        lambda names, feed: runs.append(feed["input.1"].shape) or run(names, feed),
    )
    half = np.zeros((240, 480, 3), np.uint8)  # letterboxed at 4/3: image pixels x 0.75
    faces = detector.detect([image, half, image])
    assert runs == [(2, 3, 640, 640), (1, 3, 640, 640)]
    np.testing.assert_allclose(faces[0][0].box, BOX_A, atol=1e-4)
    np.testing.assert_allclose(faces[1][0].box, np.float32(BOX_A) / 2, atol=1e-4)
    np.testing.assert_allclose(faces[1][1].landmarks, np.float32(KPS_B) / 2, atol=1e-4)
    assert [len(f) for f in faces] == [2, 2, 2]
    # det_10g's layout (batch 1, outputs without a batch axis) runs one image at a time
    assert (
        _detector(write_graph(tmp_path / "one.onnx", planted_outputs()), batch_size=8).batch_size
        == 1
    )


def test_threshold_is_inclusive_and_min_face_size_filters(graph, image) -> None:
    (faces,) = _detector(graph, threshold=0.45).detect([image])
    assert [round(f.score, 6) for f in faces] == [0.9, 0.7, 0.45]
    np.testing.assert_allclose(faces[2].box, BOX_D, atol=1e-4)  # 48 x 48 pixels
    (faces,) = _detector(graph, threshold=0.45, min_face_size=49).detect([image])
    assert [round(f.score, 6) for f in faces] == [0.9, 0.7]
    (faces,) = _detector(graph, threshold=0.95).detect([image])
    assert faces == []


def test_nms_threshold_decides_what_overlaps(tmp_path, image) -> None:
    # C's box (300, 168, 444, 324) inside A's (300, 168, 444, 336): InsightFace's IoU, +1 on
    # sides, is 145 * 157 / (145 * 169) = 0.92899 (without the +1: 156 / 168 = 0.92857)
    path = write_graph(tmp_path / "det.onnx", planted_outputs((FACE_A, FACE_C)))
    assert len(_detector(path).detect([image])[0]) == 1
    assert len(_detector(path, nms_threshold=0.9291).detect([image])[0]) == 2
    assert len(_detector(path, nms_threshold=0.9288).detect([image])[0]) == 1


def test_large_images_are_downscaled_then_mapped_back(graph, image) -> None:
    # max_side 480: the 960x480 image is detected on a 480x240 copy, faces mapped back x2
    (full,) = _detector(graph, max_side=None).detect([image])
    (small,) = _detector(graph, max_side=480).detect([image])
    assert len(full) == len(small) == 2
    for a, b in zip(full, small, strict=True):
        np.testing.assert_allclose(a.box, b.box, atol=1e-3)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_crop_pipeline_end_to_end(graph, image) -> None:
    detector = _detector(graph)
    (crops,) = crop_faces([image], detector, get_preset("gend"))
    (crop,) = crops  # the largest face: B
    np.testing.assert_allclose(crop.face.box, BOX_B, atol=1e-4)
    assert crop.aligned.crop.shape == (256, 256, 3) and crop.selected_by == "largest"
    destination = get_preset("gend").destination(256)
    np.testing.assert_allclose(crop.aligned.to_crop(crop.face.landmarks), destination, atol=0.01)
    # GenD's native size: B's landmarks are the template x 100, so 100 x 1.3 = 130 pixels
    native = get_preset("gend", size=None, size_rule="gend")
    ((crop,),) = crop_faces([image], detector, native)
    assert crop.aligned.crop.shape == (130, 130, 3)


def test_fixed_size_graph_and_bad_graphs(tmp_path, image) -> None:
    fixed = write_graph(tmp_path / "fixed.onnx", planted_outputs(), (1, 3, 640, 640))
    assert _detector(fixed).input_size == (640, 640)
    with pytest.raises(ValueError, match="fixed 640x640 input"):
        _detector(fixed, input_size=320)
    no_kps = write_graph(tmp_path / "nokps.onnx", planted_outputs()[:6])
    with pytest.raises(CheckpointError, match="6 outputs"):
        _detector(no_kps)
    made_for_640 = write_graph(tmp_path / "det.onnx", planted_outputs())
    with pytest.raises(ValueError, match="multiples of 32"):
        _detector(made_for_640, input_size=(640, 600))
    with pytest.raises(CheckpointError, match=r"output 0 .* \(12800, 1\), expected \(3200, 1\)"):
        _detector(made_for_640, input_size=320).detect([image])
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(CheckpointError, match=r"junk\.onnx: not a loadable ONNX graph"):
        _detector(tmp_path / "junk.onnx")


def test_missing_weights_say_how_to_get_them(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"det_10g\.onnx") as err:
        create_face_detector("scrfd")
    assert "non-commercial" in str(err.value) and "model=PATH" in str(err.value)
    missing = tmp_path / "weights" / "det_10g.onnx"
    with pytest.raises(ModelNotFoundError, match=f"{missing}: no such file"):
        create_face_detector("scrfd", model=missing)
    with pytest.raises(ModelNotFoundError, match="no such file"):
        create_face_detector("scrfd", model="weights/det_10g.onnx")  # a path, not a Hub id
    with pytest.raises(ModelNotFoundError, match=f"{tmp_path / 'det_10g.onnx'}: no such file"):
        create_face_detector("scrfd", model=tmp_path)  # a folder without the file


def test_weights_from_a_folder_and_the_hub_cache(tmp_path, graph, monkeypatch) -> None:
    from huggingface_hub import constants

    folder = tmp_path / "buffalo_l"
    folder.mkdir()
    (folder / "det_10g.onnx").write_bytes(graph.read_bytes())
    assert _detector(folder).model_path == folder / "det_10g.onnx"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = tmp_path / "hub" / "models--someone--insightface" / "snapshots" / ("0" * 40)
    (snapshot / "models" / "buffalo_l").mkdir(parents=True)
    (snapshot / "models" / "buffalo_l" / "det_10g.onnx").write_bytes(graph.read_bytes())
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    detector = _detector("someone/insightface", filename="models/buffalo_l/det_10g.onnx")
    assert detector.model_path == snapshot / "models" / "buffalo_l" / "det_10g.onnx"
    with pytest.raises(ModelNotFoundError, match=r"has no file 'det_10g\.onnx'"):
        _detector("someone/insightface")
    with pytest.raises(ModelNotFoundError, match="cannot get 'someone/elsewhere'"):
        _detector("someone/elsewhere")


def test_licence_is_printed_once_per_process(graph, monkeypatch, capsys) -> None:
    monkeypatch.setattr(scrfd_module, "_licence_shown", False)
    capsys.readouterr()
    _detector(graph)
    _detector(graph, threshold=0.3)
    err = capsys.readouterr().err
    assert err.count("non-commercial research purposes only") == 1
    assert str(graph) in err


def test_device_picks_the_onnxruntime_providers() -> None:
    class Runtime:
        def __init__(self, *providers: str) -> None:
            self.providers = [*providers, "CPUExecutionProvider"]

        def get_available_providers(self) -> list[str]:
            return self.providers

    cuda, cpu_only = Runtime("CUDAExecutionProvider"), Runtime()
    cuda_first = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    assert scrfd_module._providers(cuda, None) == cuda_first
    assert scrfd_module._providers(cpu_only, None) == ["CPUExecutionProvider"]
    assert scrfd_module._providers(cuda, "cpu") == ["CPUExecutionProvider"]
    assert scrfd_module._providers(cuda, "cuda:1")[0] == ("CUDAExecutionProvider", {"device_id": 1})
    with pytest.raises(ValueError, match="no CUDA"):
        scrfd_module._providers(cpu_only, "cuda")
    with pytest.raises(ValueError, match="device must be"):
        scrfd_module._providers(cuda, "mps")
