"""Every released checkpoint format, written as the authors' code writes it from tiny random
backbones, loads with the scores of the reference library (transformers, timm, peft).

Each reference has LayerNorms with non-default values, so a wrong LayerNorm mapping (untuned
copies, a missed prefix) changes the scores and fails these tests."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import peft
import pytest
import timm  # the [pe] extra: scripts/setup.sh installs it, so these tests run in CI, never skip
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from dfdetect import Detector
from dfdetect.errors import CheckpointError
from dfdetect.faces.pipeline import FIRST_PAPER_PIPELINE, GEND_PIPELINE
from dfdetect.model.registry import BACKBONES
from test_model_import import _Payload


def randomize_layernorms(module: nn.Module, seed: int) -> None:
    """Give every LayerNorm weights and biases far from their 1/0 defaults."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.LayerNorm) and sub.weight is not None:
                sub.weight.copy_(1 + 0.5 * torch.randn(sub.weight.shape, generator=g))
                sub.bias.copy_(0.5 * torch.randn(sub.bias.shape, generator=g))


class LinearProbe(nn.Module):
    """GenD's head: optional L2 normalisation, then Linear(d, 2) under ``linear``."""

    def __init__(self, dim: int, normalize: bool):
        super().__init__()
        torch.manual_seed(5)
        self.linear = nn.Linear(dim, 2)
        with torch.no_grad():
            self.linear.weight.mul_(20)  # spread the probabilities out
        self.normalize = normalize

    def forward(self, x):
        return self.linear(F.normalize(x, p=2, dim=1) if self.normalize else x)


def head_tensors(head: LinearProbe) -> dict[str, torch.Tensor]:
    return {f"model.{k}": v.detach().clone() for k, v in head.state_dict().items()}


def probs(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits, dim=-1)[:, 1].detach().numpy()


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (4, 24, 24, 3), dtype=np.uint8)
    # smooth, face-crop-sized images: resizing noise would dominate otherwise
    return [np.array(Image.fromarray(b).resize((256, 256), Image.BICUBIC)) for b in base]


def assert_parity(det: Detector, reference, pixels: torch.Tensor, expected_own: np.ndarray, faces):
    """Identical input tensors: within 1e-5; each side's own preprocessing: within 1e-3."""
    with torch.no_grad():
        ours = probs(det(pixels))
    expected = probs(reference(pixels))
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert np.ptp(expected) > 1e-3  # the comparison is not between constants
    np.testing.assert_allclose(det.predict(faces), expected_own, atol=1e-3)


# GenD Hugging Face format, Perception Encoder (timm Eva) --------------------------------------

PE_ARCH = "vit_pe_core_large_patch14_336"
PE_ARGS = {"embed_dim": 64, "depth": 2, "num_heads": 4}


class PEReference(nn.Module):
    """GenD's PerceptionEncoder + head, built as its code builds them (tiny model_args)."""

    def __init__(self, normalize: bool):
        super().__init__()
        torch.manual_seed(11)
        self.backbone = timm.create_model(
            PE_ARCH, pretrained=False, dynamic_img_size=True, **PE_ARGS
        ).eval()
        data_config = timm.data.resolve_model_data_config(self.backbone)
        data_config["input_size"] = (3, 224, 224)
        self.transform = timm.data.create_transform(**data_config, is_training=False)
        self.backbone.head = nn.Identity()
        randomize_layernorms(self.backbone, 1)
        self.head = LinearProbe(64, normalize)

    def forward(self, x):
        return self.head(self.backbone(x))


def write_timm_folder(folder: Path) -> Path:
    """A backbone folder in timm's Hub format (config.json with architecture and model_args)."""
    folder.mkdir(parents=True)
    config = {
        "architecture": PE_ARCH,
        "num_features": 64,
        "global_pool": "map",
        "model_args": PE_ARGS,
        "pretrained_cfg": {
            "input_size": [3, 336, 336],
            "interpolation": "bicubic",
            "crop_pct": 1.0,
            "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def write_gend(folder: Path, backbone: str, head: str, tensors: dict) -> Path:
    folder.mkdir(parents=True)
    config = {"model_type": "GenD", "backbone": backbone, "head": head, "architectures": ["GenD"]}
    (folder / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in tensors.items()}, folder / "model.safetensors")
    return folder


@pytest.mark.parametrize("head,normalize", [("LinearNorm", True), ("linear", False)])
def test_gend_perception_encoder_matches_timm(tmp_path, faces, head, normalize):
    ref = PEReference(normalize).eval()
    tensors = {f"feature_extractor.backbone.{k}": v for k, v in ref.backbone.state_dict().items()}
    tensors.update(head_tensors(ref.head))
    backbone = write_timm_folder(tmp_path / "pe")
    det = Detector.from_pretrained(write_gend(tmp_path / "gend", str(backbone), head, tensors))
    assert det.backbone.family == "pe" and det.config.normalize_features is normalize
    assert det.config.face_pipeline == GEND_PIPELINE and det.config.source_format == "gend"
    pre = det.config.preprocess
    assert (pre.crop_size, pre.resize, pre.interpolation, pre.mean) == (
        224,
        224,
        "bicubic",
        (0.5,) * 3,
    )
    pixels = torch.stack([ref.transform(Image.fromarray(f)) for f in faces])
    with torch.no_grad():
        own = probs(ref(pixels))
    assert_parity(det, ref, pixels, own, faces)


def test_perception_encoder_is_registered_as_gend_names_it():
    spec = BACKBONES[PE_ARCH]
    assert spec.family == "pe" and spec.feature_dim == 1024
    assert spec.hub_id == "timm/vit_pe_core_large_patch14_336.fb"
    assert (spec.preprocess.crop_size, spec.preprocess.mean) == (224, (0.5, 0.5, 0.5))


# GenD Hugging Face format, DINOv3 (transformers) ---------------------------------------------


class DINOv3Reference(nn.Module):
    """GenD's DINOEncoder (CLS token of last_hidden_state) + head."""

    def __init__(self, folder: Path, normalize: bool):
        super().__init__()
        torch.manual_seed(13)
        config = transformers.DINOv3ViTConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            patch_size=16,
            num_register_tokens=2,
        )
        self.backbone = transformers.DINOv3ViTModel(config).eval()
        randomize_layernorms(self.backbone, 2)
        self.backbone.save_pretrained(folder)
        self.head = LinearProbe(64, normalize)

    def forward(self, x):
        return self.head(self.backbone(pixel_values=x).last_hidden_state[:, 0])


@pytest.mark.parametrize("processor", [False, True])
def test_gend_dinov3_matches_transformers(tmp_path, faces, processor):
    ref = DINOv3Reference(tmp_path / "dinov3", normalize=True).eval()
    if processor:  # the backbone's own preprocessor_config.json decides (here: 256 -> 224 crop)
        transformers.DINOv3ViTImageProcessor(
            size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
            do_center_crop=True, resample=3,
        ).save_pretrained(tmp_path / "dinov3")  # fmt: skip
    reference_processor = (
        transformers.AutoImageProcessor.from_pretrained(tmp_path / "dinov3")
        if processor
        else transformers.DINOv3ViTImageProcessor()  # the transformers defaults
    )
    tensors = {f"feature_extractor.backbone.{k}": v for k, v in ref.backbone.state_dict().items()}
    tensors.update(head_tensors(ref.head))
    det = Detector.from_pretrained(
        write_gend(tmp_path / "gend", str(tmp_path / "dinov3"), "LinearNorm", tensors)
    )
    assert det.backbone.family == "dinov3"
    pre = det.config.preprocess
    if processor:
        assert (pre.resize_mode, pre.resize, pre.crop_size, pre.interpolation) == (
            "shortest_edge", 256, 224, "bicubic")  # fmt: skip
    else:
        assert (pre.resize_mode, pre.crop_size, pre.interpolation) == ("exact", 224, "bilinear")
        assert pre.mean == (0.485, 0.456, 0.406)
    pixels = reference_processor(images=[Image.fromarray(f) for f in faces], return_tensors="pt")
    pixels = pixels["pixel_values"]
    with torch.no_grad():
        own = probs(ref(pixels))
    assert_parity(det, ref, pixels, own, faces)


def test_dinov3_large_is_registered():
    spec = BACKBONES["facebook/dinov3-vitl16-pretrain-lvd1689m"]
    assert spec.family == "dinov3" and spec.feature_dim == 1024
    assert (spec.preprocess.resize_mode, spec.preprocess.interpolation) == ("exact", "bilinear")


# Original repository: Lightning model.ckpt trained with peft LN tuning -------------------------


class CLIPEncoder(nn.Module):
    """The first paper's feature extractor: a CLIP vision tower and its (unused) projection."""

    def __init__(self, folder: Path):
        super().__init__()
        torch.manual_seed(17)
        config = transformers.CLIPVisionConfig(**{
            k: v for k, v in BACKBONES["tiny-random"].arch.items() if k != "model_type"
        })  # fmt: skip
        tower = transformers.CLIPVisionModel(config).eval()
        tower.save_pretrained(folder)
        # transformers 4.x nests the tower under vision_model; the authors' keys carry it
        self.vision_model = getattr(tower, "vision_model", tower)
        self.visual_projection = nn.Linear(32, 16, bias=False)

    def forward(self, x):
        return self.vision_model(pixel_values=x).pooler_output


class LightningModule(nn.Module):
    def __init__(self, extractor: nn.Module, normalize: bool):
        super().__init__()
        self.feature_extractor = extractor
        self.model = LinearProbe(32, normalize)

    def forward(self, x):
        return self.model(self.feature_extractor(x))


def lightning_checkpoint(state_dict: dict, backbone: str, head: str) -> dict:
    return {
        "epoch": 9,
        "global_step": 1234,
        "pytorch-lightning_version": "2.5.0",
        "state_dict": state_dict,
        "loops": {"fit_loop": {"state_dict": {}}},
        "optimizer_states": [],
        "lr_schedulers": [],
        "hyper_parameters": {"backbone": backbone, "head": head, "lr": 8e-5},
    }


CLIP_LAYERNORMS = ["pre_layrnorm", "layer_norm1", "layer_norm2", "post_layernorm"]


def test_lightning_peft_ln_tuning_loads_the_tuned_layernorms(tmp_path, faces):
    encoder = CLIPEncoder(tmp_path / "clip")
    wrapped = peft.get_peft_model(encoder, peft.LNTuningConfig(target_modules=CLIP_LAYERNORMS))
    module = LightningModule(wrapped, normalize=True).eval()
    tuned = [m for n, m in module.named_modules() if n.endswith("ln_tuning_layers.default")]
    assert len(tuned) == 2 * 2 + 2  # every block's two LNs, pre and post
    for layer in tuned:
        randomize_layernorms(layer, 3)  # training moved the tuned copies only
    state = module.state_dict()
    assert any(".base_layer." in k for k in state) and any(".ln_tuning_layers." in k for k in state)
    assert all(k.startswith(("feature_extractor.base_model.model.", "model.")) for k in state)
    torch.save(
        lightning_checkpoint(state, str(tmp_path / "clip"), "LinearNorm"), tmp_path / "model.ckpt"
    )
    det = Detector.from_pretrained(tmp_path / "model.ckpt")
    assert det.config.source_format == "lightning-peft"
    assert det.config.face_pipeline == FIRST_PAPER_PIPELINE
    pixels = det.preprocess(faces)
    with torch.no_grad():
        expected = probs(module(pixels))
        untuned = probs(LightningModule(CLIPEncoder(tmp_path / "again"), True).eval()(pixels))
    assert np.abs(expected - untuned).max() > 1e-3  # loading base_layer copies would fail
    assert_parity(det, module, pixels, expected, faces)


# Original repository: model.torchscript -------------------------------------------------------


def traced(tmp_path: Path, normalize: bool) -> tuple[Path, nn.Module]:
    encoder = CLIPEncoder(tmp_path / "unused")
    randomize_layernorms(encoder, 4)
    module = LightningModule(encoder, normalize).eval()
    path = tmp_path / f"model-{normalize}.torchscript"
    torch.jit.trace(module, torch.randn(1, 3, 224, 224), strict=False).save(str(path))
    return path, module


@pytest.mark.parametrize("normalize", [True, False])
def test_torchscript_tensors_import_without_running_it(tmp_path, faces, normalize):
    path, module = traced(tmp_path, normalize)
    det = Detector.from_pretrained(path)
    assert det.config.source_format == "torchscript" and det.config.backbone == "tiny-random"
    assert det.config.normalize_features is normalize  # read from the head's source, as text
    pixels = det.preprocess(faces)
    with torch.no_grad():
        expected = probs(module(pixels))
    assert_parity(det, module, pixels, expected, faces)
    (tmp_path / "folder").mkdir()
    path.rename(tmp_path / "folder" / "model.torchscript")
    again = Detector.from_pretrained(tmp_path / "folder")
    np.testing.assert_allclose(again.predict(faces), det.predict(faces), atol=1e-6)


def test_torchscript_with_foreign_objects_is_refused_and_never_run(tmp_path):
    payload = _Payload()
    payload.marker = tmp_path / "ran"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({"x": payload}, protocol=2))
        archive.writestr("model/code/__torch__.py", "class M(Module): pass\n")
    (tmp_path / "evil.torchscript").write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match=r"refuses to load .*model\.ckpt"):
        Detector.from_pretrained(tmp_path / "evil.torchscript")
    assert not payload.marker.exists()


def test_torchscript_without_a_known_tower_says_how_to_convert(tmp_path):
    path = tmp_path / "head-only.torchscript"
    torch.jit.trace(LinearProbe(32, True), torch.randn(1, 32)).save(str(path))
    with pytest.raises(CheckpointError, match=r"no CLIP vision tower.*convert it"):
        Detector.from_pretrained(path)
