"""All six checkpoint formats through the command line: ``dfdetect info`` prints each card and
``dfdetect scan --model`` gives the Python API's scores, with the face pipeline it used."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import peft
import pytest
import torch

from dfdetect import Detector
from dfdetect.cli import main
from dfdetect.faces import create_face_detector
from dfdetect.faces import pipeline as face_pipeline
from dfdetect.faces.pipeline import SCRFD_MODEL_ENV
from dfdetect.media.synthetic import face_image
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.pipeline import ScanPipeline
from test_model_formats import (
    CLIP_LAYERNORMS,
    CLIPEncoder,
    DINOv3Reference,
    LightningModule,
    PEReference,
    head_tensors,
    lightning_checkpoint,
    randomize_layernorms,
    traced,
    write_gend,
    write_timm_folder,
)
from test_model_import import Reference
from test_model_import import write_gend as write_gend_clip
from test_scan_media import load_crop

# checkpoint -> (format recorded, backbone family, face detector the checkpoint records)
EXPECTED = {
    "gend": ("gend", "clip", "scrfd"),
    "gend-pe": ("gend", "pe", "scrfd"),
    "gend-dinov3": ("gend", "dinov3", "scrfd"),
    "lightning": ("lightning", "clip", "mtcnn"),
    "lightning-peft": ("lightning-peft", "clip", "mtcnn"),
    "torchscript": ("torchscript", "clip", "mtcnn"),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Each format written as the authors' code writes it, from tiny random backbones."""
    root = tmp_path_factory.mktemp("formats")
    out: dict[str, Path] = {}
    clip = Reference(root / "clip", normalize=True)
    out["gend"] = write_gend_clip(root / "gend", clip, "LinearNorm")
    torch.save(
        lightning_checkpoint(clip.gend_tensors(), str(clip.folder), "LinearNorm"),
        root / "model.ckpt",
    )
    out["lightning"] = root / "model.ckpt"
    pe = PEReference(normalize=True).eval()
    tensors = {f"feature_extractor.backbone.{k}": v for k, v in pe.backbone.state_dict().items()}
    out["gend-pe"] = write_gend(
        root / "gend-pe",
        str(write_timm_folder(root / "pe")),
        "LinearNorm",
        {**tensors, **head_tensors(pe.head)},
    )
    dino = DINOv3Reference(root / "dinov3", normalize=True).eval()
    tensors = {f"feature_extractor.backbone.{k}": v for k, v in dino.backbone.state_dict().items()}
    out["gend-dinov3"] = write_gend(
        root / "gend-dinov3",
        str(root / "dinov3"),
        "LinearNorm",
        {**tensors, **head_tensors(dino.head)},
    )
    encoder = CLIPEncoder(root / "clip-tiny")
    wrapped = peft.get_peft_model(encoder, peft.LNTuningConfig(target_modules=CLIP_LAYERNORMS))
    module = LightningModule(wrapped, normalize=True)
    randomize_layernorms(module, 9)
    (root / "peft").mkdir()
    torch.save(
        lightning_checkpoint(module.state_dict(), str(root / "clip-tiny"), "LinearNorm"),
        root / "peft" / "model.ckpt",
    )
    out["lightning-peft"] = root / "peft"
    out["torchscript"], _ = traced(root, normalize=True)
    return out


@pytest.fixture(scope="module")
def photo(tmp_path_factory, sample_faces) -> Path:
    path = tmp_path_factory.mktemp("photo") / "face.png"
    face_image(path, load_crop(sample_faces["fake"][0]))
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_info_prints_every_formats_card(checkpoints, name, capsys):
    assert main(["info", str(checkpoints[name]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    source_format, family, detector = EXPECTED[name]
    assert card["format"] == source_format and card["backbone"]["family"] == family
    assert card["face_pipeline"]["detector"] == detector
    params = card["parameters"]
    assert 0 < params["trained"] < params["total"]
    assert main(["info", str(checkpoints[name])]) == 0
    text = capsys.readouterr().out
    assert f"face detector  {detector}" in text and "trained" in text


def test_info_of_a_missing_model_exits_3(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nothing")]) == 3
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scan_with_every_format_gives_the_api_scores(
    checkpoints, name, photo, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv(SCRFD_MODEL_ENV, raising=False)
    monkeypatch.setattr(face_pipeline, "_warned", set())  # the fallback warns once per process
    out = tmp_path / "r.jsonl"
    argv = ["scan", str(photo), "--model", str(checkpoints[name]), "--out", str(out)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([*argv, "--db", str(tmp_path / "db.sqlite"), "--quiet"])
    assert code == 0
    result = json.loads(out.read_text().splitlines()[0])
    assert result["face_pipeline"]["detector"] == "mtcnn"  # SCRFD has no weights here
    fallback = [w for w in caught if "no SCRFD weights" in str(w.message)]
    assert len(fallback) == (1 if EXPECTED[name][2] == "scrfd" else 0)
    # the Python API on the same file with the same pipeline
    detector = Detector.from_pretrained(checkpoints[name], device="cpu")
    api = ScanPipeline(detector, create_face_detector("mtcnn"), ScanOptions())
    expected = api.analyze_path(photo)
    assert result["status"] == "ok" and len(result["faces"]) == 1
    np.testing.assert_allclose(result["prob"], expected.prob, atol=1e-5)
    crop = expected.face_pipeline["crop"]
    assert result["face_pipeline"]["crop"] == crop
