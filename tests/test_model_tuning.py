"""What trains: LayerNorm tuning (exact set for ViT-L/14), LoRA via peft, freeze helpers."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from dfdetect.model.config import DetectorConfig, LoraOptions
from dfdetect.model.detector import Detector
from dfdetect.model.tuning import AdapterError, apply_layernorm_tuning, apply_lora


def expected_clip_layernorm_names(layers: int) -> set[str]:
    prefix = "backbone.model."
    names = {f"{prefix}pre_layrnorm.{p}" for p in ("weight", "bias")}
    names |= {f"{prefix}post_layernorm.{p}" for p in ("weight", "bias")}
    for i in range(layers):
        for norm in ("layer_norm1", "layer_norm2"):
            names |= {f"{prefix}encoder.layers.{i}.{norm}.{p}" for p in ("weight", "bias")}
    return names


def test_vit_l14_layernorm_tuning_trains_exactly_104450_parameters():
    # The real openai/clip-vit-large-patch14 vision architecture, built on the meta device.
    with torch.device("meta"):
        det = Detector.from_config(
            DetectorConfig(backbone="openai/clip-vit-large-patch14"),
            pretrained_backbone=False,
            device="meta",
        )
    trainable = {n: p.numel() for n, p in det.named_parameters() if p.requires_grad}
    assert set(trainable) == expected_clip_layernorm_names(24) | {"head.weight", "head.bias"}
    assert sum(trainable.values()) == 104_450
    assert sum(v for n, v in trainable.items() if n.startswith("backbone.")) == 102_400
    assert sum(p.numel() for p in det.parameters()) == 303_181_826  # the frozen rest is there
    assert det.config.feature_dim == 1024 and det.head.in_features == 1024


def test_apply_layernorm_tuning_freezes_everything_else():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    names = apply_layernorm_tuning(model)
    assert names == ["1.weight", "1.bias"]
    assert [n for n, p in model.named_parameters() if p.requires_grad] == names
    with pytest.raises(AdapterError, match="no LayerNorm"):
        apply_layernorm_tuning(nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(AdapterError, match="no LayerNorm"):
        apply_layernorm_tuning(nn.LayerNorm(4, elementwise_affine=False))


def test_layernorm_training_step_changes_only_trained_tensors():
    det = Detector.from_pretrained("tiny-random")
    before = {n: p.detach().clone() for n, p in det.named_parameters()}
    opt = torch.optim.SGD([p for p in det.parameters() if p.requires_grad], lr=0.5)
    x = torch.randn(4, 3, 224, 224)
    loss = nn.functional.cross_entropy(det(x), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    opt.step()
    changed = {n for n, p in det.named_parameters() if not torch.equal(p, before[n])}
    assert changed == set(det.trained_names)


@pytest.fixture()
def lora_config() -> DetectorConfig:
    lora = LoraOptions(rank=4, alpha=8.0, targets=("q_proj", "v_proj"))
    return DetectorConfig(backbone="tiny-random", adapter="lora", lora=lora)


def test_lora_save_reload_gives_identical_outputs(tmp_path, lora_config):
    det = Detector.from_config(lora_config)
    lora_names = [n for n in det.trained_names if ".lora_" in n]
    # 2 layers x (q, v) x (A: 4x32 + B: 32x4)
    assert len(lora_names) == 2 * 2 * 2
    assert sum(dict(det.named_parameters())[n].numel() for n in lora_names) == 2 * 2 * 256
    # train: perturb every trained tensor (LoRA B starts at zero, so outputs must now change)
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        start = det(x).clone()
        for name in det.trained_names:
            param = dict(det.named_parameters())[name]
            param.add_(torch.randn_like(param) * 0.2)
        trained = det(x)
    assert not torch.allclose(start, trained)

    folder = det.save_pretrained(tmp_path / "lora")
    saved = load_file(folder / "model.safetensors")
    assert set(saved) == {det.file_name(n) for n in det.trained_names}
    assert not any("base_layer" in k or "fc1" in k for k in saved)  # no frozen weights saved
    again = Detector.from_pretrained(folder)
    assert again.config.adapter == "lora" and again.config.lora == lora_config.lora
    with torch.no_grad():
        np.testing.assert_array_equal(again(x).numpy(), trained.numpy())


def test_lora_with_unknown_targets_fails_clearly():
    config = DetectorConfig(
        backbone="tiny-random", adapter="lora", lora=LoraOptions(targets=("nope",))
    )
    with pytest.raises(AdapterError, match="nope"):
        Detector.from_config(config)


def test_apply_lora_returns_new_parameter_names():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    names = apply_lora(model, LoraOptions(rank=2, targets=("0",)))
    assert names == ["0.lora_A.default.weight", "0.lora_B.default.weight"]


def test_lora_without_peft_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # makes `import peft` raise ImportError
    with pytest.raises(AdapterError, match=r"dfdetect\[train\]"):
        apply_lora(nn.Sequential(nn.Linear(4, 4)), LoraOptions())
