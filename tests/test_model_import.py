"""Importing GenD Hugging Face checkpoints and Lightning model.ckpt files, proven offline with
tiny random CLIPs written in those formats and compared with plain transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, CLIPVisionModel

from dfdetect import Detector
from dfdetect.errors import CheckpointError

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


class Reference:
    """A tiny CLIP vision tower + linear head as the GenD code builds them, in plain torch."""

    def __init__(self, folder: Path, normalize: bool):
        torch.manual_seed(123)
        config = CLIPVisionConfig(
            hidden_size=48,
            intermediate_size=96,
            num_hidden_layers=3,
            num_attention_heads=4,
            patch_size=16,
            image_size=224,
            projection_dim=24,
        )
        self.tower = CLIPVisionModel(config).eval()
        self.tower.save_pretrained(folder)  # the "backbone" GenD's config points at
        self.head = torch.nn.Linear(48, 2)
        self.normalize = normalize
        self.folder = folder

    def gend_tensors(self) -> dict[str, torch.Tensor]:
        # transformers 4.x names of CLIPVisionTransformer (what GenD's checkpoints hold)
        tower = self.tower.state_dict()
        if any(k.startswith("vision_model.") for k in tower):  # transformers 4.x nesting
            tower = {k.removeprefix("vision_model."): v for k, v in tower.items()}
        tensors = {f"feature_extractor.vision_model.{k}": v for k, v in tower.items()}
        tensors["feature_extractor.visual_projection.weight"] = torch.randn(24, 48)
        tensors["model.linear.weight"] = self.head.weight.detach()
        tensors["model.linear.bias"] = self.head.bias.detach()
        return {k: v.contiguous() for k, v in tensors.items()}

    @torch.no_grad()
    def scores(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        pooled = self.tower(pixel_values=(x - CLIP_MEAN) / CLIP_STD).pooler_output
        logits = self.head(F.normalize(pooled, dim=-1) if self.normalize else pooled)
        return torch.softmax(logits, dim=-1)[:, 1].numpy()


def write_gend(folder: Path, ref: Reference, head: str, tensors=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "GenD", "backbone": str(ref.folder), "head": head}
    (folder / "config.json").write_text(json.dumps(config))
    save_file(tensors if tensors is not None else ref.gend_tensors(), folder / "model.safetensors")
    return folder


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)


@pytest.mark.parametrize("head,normalize", [("LinearNorm", True), ("linear", False)])
def test_gend_checkpoint_scores_equal_plain_transformers(tmp_path, images, head, normalize):
    ref = Reference(tmp_path / "backbone", normalize)
    det = Detector.from_pretrained(write_gend(tmp_path / "gend", ref, head))
    assert det.config.normalize_features is normalize
    expected = ref.scores(images)
    np.testing.assert_allclose(det.predict(list(images)), expected, atol=1e-5)
    assert np.ptp(expected) > 1e-4  # the comparison is not between constants


def test_gend_import_saves_and_reloads_as_dfdetect_checkpoint(tmp_path, images):
    ref = Reference(tmp_path / "backbone", True)
    det = Detector.from_pretrained(write_gend(tmp_path / "gend", ref, "LinearNorm"))
    det.save_pretrained(tmp_path / "ours")
    config = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert config["backbone"] == str(ref.folder) and config["normalize_features"] is True
    assert config["source"] == str(tmp_path / "gend" / "model.safetensors")
    # reload: backbone weights from the backbone folder, LayerNorms and head from ours
    again = Detector.from_pretrained(tmp_path / "ours")
    np.testing.assert_allclose(again.predict(images), ref.scores(images), atol=1e-6)


def test_gend_checkpoint_with_bad_keys_is_refused_with_names(tmp_path):
    ref = Reference(tmp_path / "backbone", True)
    tensors = ref.gend_tensors()
    tensors.pop("feature_extractor.vision_model.post_layernorm.bias")
    tensors["feature_extractor.vision_model.extra.weight"] = torch.zeros(3)
    tensors["model.linear.weight"] = torch.zeros(2, 47)
    with pytest.raises(CheckpointError) as err:
        Detector.from_pretrained(write_gend(tmp_path / "gend", ref, "LinearNorm", tensors))
    message = str(err.value)
    # named as the file names them, whatever transformers holds in memory
    assert "missing keys: backbone.model.vision_model.post_layernorm.bias" in message
    assert "unexpected keys: backbone.model.vision_model.extra.weight" in message
    assert "head.weight (checkpoint (2, 47), model (2, 48))" in message


def test_gend_unknown_head_is_refused(tmp_path):
    ref = Reference(tmp_path / "backbone", True)
    with pytest.raises(CheckpointError, match="unknown head 'MLP'"):
        Detector.from_pretrained(write_gend(tmp_path / "gend", ref, "MLP"))


def test_lightning_checkpoint_imports(tmp_path, images):
    ref = Reference(tmp_path / "backbone", True)
    checkpoint = {
        "epoch": 7,
        "state_dict": ref.gend_tensors(),
        "hyper_parameters": {"backbone": str(ref.folder), "head": "LinearNorm", "lr": 8e-5},
    }
    (tmp_path / "run").mkdir()
    torch.save(checkpoint, tmp_path / "run" / "model.ckpt")
    expected = ref.scores(images)
    by_file = Detector.from_pretrained(tmp_path / "run" / "model.ckpt")
    np.testing.assert_allclose(by_file.predict(images), expected, atol=1e-5)
    by_folder = Detector.from_pretrained(tmp_path / "run")
    np.testing.assert_allclose(by_folder.predict(images), expected, atol=1e-5)


class _Payload:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_lightning_checkpoint_with_python_objects_is_never_unpickled(tmp_path):
    payload = _Payload()
    payload.marker = tmp_path / "unpickled"
    checkpoint = {"state_dict": {}, "hyper_parameters": {"x": payload}}
    torch.save(checkpoint, tmp_path / "model.ckpt", pickle_protocol=2)
    with pytest.raises(CheckpointError, match=r"cannot be loaded safely.*weights_only=True"):
        Detector.from_pretrained(tmp_path / "model.ckpt")
    assert not payload.marker.exists()
    (tmp_path / "broken.ckpt").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(CheckpointError, match=r"broken\.ckpt"):
        Detector.from_pretrained(tmp_path / "broken.ckpt")
