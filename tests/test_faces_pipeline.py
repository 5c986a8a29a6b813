"""The face pipeline recorded with a model: its JSON form, old configs, the detector chosen for
it (SCRFD when weights are given, MTCNN with one warning when not) and frame sampling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.faces import pipeline as face_pipeline
from dfdetect.faces.pipeline import (
    FIRST_PAPER_PIPELINE,
    GEND_PIPELINE,
    SCRFD_MODEL_ENV,
    FacePipeline,
    choose_detector,
)
from dfdetect.faces.presets import get_preset
from dfdetect.media.sampling import sample_frame_indices
from dfdetect.model.config import DetectorConfig


def test_pipeline_round_trips_through_json():
    for pipeline in (FacePipeline(), GEND_PIPELINE, FIRST_PAPER_PIPELINE):
        data = json.loads(json.dumps(pipeline.to_dict()))
        assert FacePipeline.from_dict(data) == pipeline
    assert GEND_PIPELINE.to_dict()["crop"]["size"] is None  # GenD's native-size crops
    assert (GEND_PIPELINE.detector, GEND_PIPELINE.nms, GEND_PIPELINE.sampling) == (
        "scrfd", 0.4, "max-spread")  # fmt: skip
    with pytest.raises(ValueError, match="unknown keys"):
        FacePipeline.from_dict({"detector": "mtcnn", "margin": 2})
    with pytest.raises(ValueError, match="aggregation"):
        FacePipeline(aggregation="max")


def test_model_config_records_the_pipeline_and_reads_old_configs(tmp_path):
    config = DetectorConfig(face_pipeline=GEND_PIPELINE)
    config.save(tmp_path / "config.json")
    assert DetectorConfig.load(tmp_path / "config.json").face_pipeline == GEND_PIPELINE
    old = config.to_dict()
    del old["face_pipeline"], old["source_format"]
    old["face_crop"] = get_preset("arcface").to_dict()  # as dfdetect 0.1 wrote it
    loaded = DetectorConfig.from_dict(old)
    assert loaded.face_pipeline == FacePipeline(crop=get_preset("arcface"))
    bad = {**config.to_dict(), "face_pipeline": {**GEND_PIPELINE.to_dict(), "detector": "dlib"}}
    with pytest.raises(CheckpointError, match=r"face_pipeline.*dlib"):
        DetectorConfig.from_dict(bad)


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.delenv(SCRFD_MODEL_ENV, raising=False)
    monkeypatch.setattr(face_pipeline, "_warned", set())


def test_recorded_scrfd_without_weights_falls_back_to_mtcnn_once(fresh):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used, options = choose_detector(GEND_PIPELINE)
        again, _ = choose_detector(GEND_PIPELINE)
    assert used.detector == again.detector == "mtcnn" and options == {}
    assert used.threshold is None and used.crop == GEND_PIPELINE.crop  # the crop is kept
    assert used.sampling == "max-spread" and used.frames == 32
    assert len([w for w in caught if "no SCRFD weights" in str(w.message)]) == 1


def test_scrfd_weights_from_the_flag_or_the_environment(fresh, monkeypatch):
    used, options = choose_detector(GEND_PIPELINE, scrfd_model="/models/det_10g.onnx")
    assert used == GEND_PIPELINE
    assert options == {"threshold": 0.5, "nms_threshold": 0.4, "model": "/models/det_10g.onnx"}
    monkeypatch.setenv(SCRFD_MODEL_ENV, "someone/insightface:det_10g.onnx")
    _, options = choose_detector(GEND_PIPELINE)
    assert options["model"] == "someone/insightface:det_10g.onnx"


def test_asking_for_scrfd_without_weights_is_an_error(fresh):
    with pytest.raises(ModelNotFoundError, match="--scrfd-model"):
        choose_detector(FacePipeline(), detector="scrfd")
    used, options = choose_detector(GEND_PIPELINE, detector="mtcnn")
    assert used.detector == "mtcnn" and options == {}  # an explicit choice: no warning needed


def test_scan_samples_frames_as_the_model_pipeline_says(tmp_path, tiny_detector, sample_faces):
    from dataclasses import replace

    from dfdetect.media.synthetic import face_video
    from dfdetect.scan.options import ScanOptions
    from dfdetect.scan.session import ScanSession
    from test_scan_media import load_crop

    video = face_video(tmp_path / "v.mp4", [load_crop(sample_faces["real"][0])], n_frames=40)
    tiny = tmp_path / "tiny"
    tiny_detector.config = replace(
        tiny_detector.config, face_pipeline=FacePipeline(frames=5, sampling="max-spread")
    )
    try:
        tiny_detector.save_pretrained(tiny)
    finally:
        tiny_detector.config = replace(tiny_detector.config, face_pipeline=FacePipeline())
    for model_sampling, expected in ((True, sample_frame_indices(40, 5, "max-spread")),
                                     (False, sample_frame_indices(40, 3, "even"))):  # fmt: skip
        with ScanSession.open(
            str(tiny),
            ScanOptions(frames=3, seek="exact"),
            device="cpu",
            db=tmp_path / f"{model_sampling}.sqlite",
            model_sampling=model_sampling,
        ) as session:
            [result] = session.run([video])
        assert sorted(f.index for f in result.frames) == sorted(expected.tolist())
        assert result.face_pipeline["sampling"] == "max-spread"
    assert not np.array_equal(np.sort(sample_frame_indices(40, 5, "max-spread")), np.arange(5))


def test_gend_model_cuts_faces_with_scrfd_when_weights_are_given(tmp_path, capsys, fresh):
    """scan and extract with a GenD checkpoint and a (planted) det_10g graph: SCRFD finds the
    planted faces and GenD's native-size crops come out, as the model records."""
    from PIL import Image

    from dfdetect.cli import main
    from test_faces_scrfd import BOX_A, BOX_B, planted_outputs, write_graph
    from test_model_import import Reference, write_gend

    graph = write_graph(tmp_path / "det_10g.onnx", planted_outputs())
    model = write_gend(tmp_path / "gend", Reference(tmp_path / "clip", True), "LinearNorm")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((480, 960, 3), 90, np.uint8)).save(photo)
    out = tmp_path / "r.jsonl"
    argv = ["scan", str(photo), "--model", str(model), "--scrfd-model", str(graph), "--quiet"]
    assert main([*argv, "--out", str(out), "--db", str(tmp_path / "db.sqlite")]) == 0
    result = json.loads(out.read_text())
    assert result["face_pipeline"]["detector"] == "scrfd"
    assert result["face_pipeline"]["crop"]["size_rule"] == "gend"
    boxes = sorted(face["box"] for face in result["faces"])
    np.testing.assert_allclose(boxes, sorted([list(BOX_A), list(BOX_B)]), atol=0.01)
    crops = tmp_path / "crops"
    argv = ["extract", str(photo), "--out", str(crops), "--model", str(model)]
    assert main([*argv, "--scrfd-model", str(graph), "--source", "real"]) == 0
    [crop] = list(crops.rglob("*.png"))
    assert Image.open(crop).size == (130, 130)  # face B at GenD's native size: 100 px x 1.3
    assert "non-commercial" in capsys.readouterr().err  # the licence, once
