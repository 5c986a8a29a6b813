"""The backbone factory: registry names, local folders of CLIP / DINOv2 / SigLIP towers, their
pooled features and preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    Dinov2Config,
    Dinov2Model,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.backbones import create_backbone, spec_for
from dfdetect.model.device import resolve_device, resolve_dtype
from dfdetect.model.preprocess import preprocess_faces
from dfdetect.model.registry import ALIASES, BACKBONES, get_spec

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 224}
TOWERS = {
    "clip": (CLIPVisionConfig(**TINY, intermediate_size=64, patch_size=32), CLIPVisionModel),
    "dinov2": (Dinov2Config(**TINY, patch_size=32), Dinov2Model),
    "siglip": (SiglipVisionConfig(**TINY, intermediate_size=64, patch_size=32), SiglipVisionModel),
}


def test_registry_knows_the_issue_backbones():
    expected = {
        "openai/clip-vit-large-patch14": (1024, 224),
        "openai/clip-vit-large-patch14-336": (1024, 336),
        "openai/clip-vit-base-patch16": (768, 224),
        "openai/clip-vit-base-patch32": (768, 224),
        "facebook/dinov2-base": (768, 224),
        "google/siglip-base-patch16-224": (768, 224),
    }
    for name, (dim, size) in expected.items():
        spec = get_spec(name)
        assert (spec.feature_dim, spec.preprocess.crop_size) == (dim, size), name
    assert get_spec("vit-b16") is BACKBONES["openai/clip-vit-base-patch16"]
    assert all(target in BACKBONES for target in ALIASES.values())
    with pytest.raises(ModelNotFoundError, match=r"unknown backbone 'clip-xl'.*vit-b16"):
        get_spec("clip-xl")


@pytest.mark.parametrize("family", sorted(TOWERS))
def test_local_folder_backbone_equals_plain_transformers(tmp_path, family):
    config, model_cls = TOWERS[family]
    torch.manual_seed(7)
    plain = model_cls(config).eval()
    plain.save_pretrained(tmp_path / family)
    backbone = create_backbone(tmp_path / family)
    assert backbone.family == family and backbone.feature_dim == 32
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        np.testing.assert_allclose(
            backbone(x).numpy(), plain(pixel_values=x).pooler_output.numpy(), atol=1e-6
        )


def test_random_builds_are_seeded_and_need_no_download(tmp_path):
    TOWERS["clip"][0].save_pretrained(tmp_path / "arch")  # config only, no weights
    a = create_backbone(tmp_path / "arch", pretrained=False)
    b = create_backbone(tmp_path / "arch", pretrained=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ModelNotFoundError, match=r"no \.safetensors weights"):
        create_backbone(tmp_path / "arch")  # pretrained requested, no weights there


def test_folders_without_a_supported_model_type_are_refused(tmp_path):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelNotFoundError, match="model_type 'bert' is not a supported backbone"):
        spec_for(tmp_path / "bert")


def _reference(processor_cls, image: np.ndarray, **kwargs) -> torch.Tensor:
    out = processor_cls(**kwargs)(images=[Image.fromarray(image)], return_tensors="np")
    return torch.as_tensor(np.asarray(out["pixel_values"]))


@pytest.mark.parametrize("family", ["dinov2", "siglip"])
def test_family_preprocessing_matches_transformers(family):
    import transformers as tf

    # a photo-like non-square image: smooth content plus mild noise
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:300, 0:260]
    base = np.stack([xx * 255 / 260, yy * 255 / 300, 128 + 60 * np.sin(xx / 9 + yy / 13)], -1)
    image = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    config = get_spec({"dinov2": "dinov2-b14", "siglip": "siglip-b16"}[family]).preprocess
    if family == "dinov2":  # facebook/dinov2-* ship a BitImageProcessor: 256 -> crop 224
        ref = _reference(
            tf.BitImageProcessorPil,
            image,
            size={"shortest_edge": 256},
            image_mean=list(config.mean),
            image_std=list(config.std),
        )
    else:
        ref = _reference(
            tf.SiglipImageProcessorPil, image, image_mean=[0.5] * 3, image_std=[0.5] * 3
        )
    ours = preprocess_faces([image], config)
    std = torch.tensor(config.std).view(1, 3, 1, 1)
    assert float(((ours - ref).abs() * std).max()) <= 1 / 255 + 1e-5


def test_device_and_dtype_choice(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype(None, torch.device("cpu")) == torch.float32
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_dtype(None, torch.device("mps")) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_device(None) == torch.device("cuda")
    assert resolve_dtype(None, torch.device("cuda")) == torch.bfloat16
