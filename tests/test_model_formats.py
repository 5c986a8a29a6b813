"""Every released checkpoint format loads with the probabilities the authors' code computed.

The files under tests/fixtures/authors were written by the real writers under the authors'
pinned libraries (GenD: transformers 4.56.2 + timm 1.0.20, ``save_pretrained``; the first paper:
transformers 4.50.0 + peft 0.14.0 + lightning 2.5.0, ``ModelCheckpoint`` /
``Trainer.save_checkpoint`` / ``to_torchscript``), see tests/fixtures/authors/generate.py. The
tests compare against the P(fake) stored beside each file, so they hold under whatever
transformers is installed. Every LayerNorm is far from its defaults, so a wrong mapping of any
name (untuned peft copies, a missed prefix, a renamed module) changes the scores."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import timm  # the [pe] extra: scripts/setup.sh installs it, so these tests run in CI, never skip
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from dfdetect import Detector
from dfdetect.errors import CheckpointError
from dfdetect.faces.pipeline import FIRST_PAPER_PIPELINE, GEND_PIPELINE
from dfdetect.model import DetectorConfig
from dfdetect.model.checkpoint import TOWER_PREFIX
from dfdetect.model.registry import BACKBONES
from fixtures.authors.generate import randomize_layernorms
from test_model_import import _Payload

FIXTURES = Path(__file__).parent / "fixtures" / "authors"
# fixture -> (what a user passes, format recorded, family, L2-normalised features, face pipeline)
AUTHORS_FORMATS = {
    "gend-clip-linear": ("gend-clip-linear", "gend", "clip", False, GEND_PIPELINE),
    "gend-clip-linearnorm": ("gend-clip-linearnorm", "gend", "clip", True, GEND_PIPELINE),
    "gend-pe": ("gend-pe", "gend", "pe", True, GEND_PIPELINE),
    "gend-dinov3": ("gend-dinov3", "gend", "dinov3", True, GEND_PIPELINE),
    "lightning": ("lightning/model.ckpt", "lightning", "clip", True, FIRST_PAPER_PIPELINE),
    "lightning-linear": ("lightning-linear", "lightning", "clip", False, FIRST_PAPER_PIPELINE),
    "lightning-peft": (
        "lightning-peft/model.ckpt", "lightning-peft", "clip", True, FIRST_PAPER_PIPELINE
    ),
    "torchscript": (
        "torchscript/model.torchscript", "torchscript", "clip", True, FIRST_PAPER_PIPELINE
    ),
}  # fmt: skip
OWN_FAMILIES = ["clip", "siglip", "dinov2", "dinov3", "pe"]
# transformers 4.56 has only the fast (torchvision) DINOv3 processor; 5.x has both
DINOV3_PROCESSOR = getattr(
    transformers, "DINOv3ViTImageProcessor", transformers.DINOv3ViTImageProcessorFast
)


@pytest.fixture(scope="session")
def authors_files(tmp_path_factory) -> Path:
    """A copy of the fixtures: the checkpoints name their backbones relative to it
    (``backbones/<name>``), as the authors' code recorded them; tests run from there."""
    root = tmp_path_factory.mktemp("authors") / "files"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("*.py", "*.md", "*.txt"))
    return root


def expected_of(folder: Path) -> tuple[torch.Tensor, np.ndarray]:
    """The seeded inputs a fixture's P(fake) were computed on, and those P(fake)."""
    data = json.loads((folder / "expected.json").read_text())
    spec = data["inputs"]
    x = torch.randn(spec["shape"], generator=torch.Generator().manual_seed(spec["seed"]))
    assert float(x.double().sum()) == pytest.approx(spec["sum"], abs=1e-6)  # the same inputs
    return x, np.array(data["p_fake"], dtype=np.float32)


@pytest.mark.parametrize("name", sorted(AUTHORS_FORMATS))
def test_authors_files_give_the_authors_probabilities(authors_files, monkeypatch, name):
    path, source_format, family, normalize, pipeline = AUTHORS_FORMATS[name]
    monkeypatch.chdir(authors_files)
    det = Detector.from_pretrained(path)
    assert det.config.source_format == source_format and det.backbone.family == family
    assert det.config.normalize_features is normalize and det.config.face_pipeline == pipeline
    x, expected = expected_of(authors_files / name)
    with torch.no_grad():
        ours = probs(det(x))
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_authors_files_are_small():
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert total < 1_200_000  # the TorchScript one carries tiny-random's 393 KB patch embedding


@pytest.mark.parametrize("family", OWN_FAMILIES)
def test_own_checkpoints_written_under_transformers_4_load_and_save_the_same_names(
    authors_files, monkeypatch, family
):
    """dfdetect checkpoints saved under transformers 4.56: loaded here, every tensor lands in
    its parameter, and saving writes the very same names (so what this transformers writes
    loads under 4.x too)."""
    monkeypatch.chdir(authors_files)
    folder = authors_files / f"dfdetect-{family}"
    config = DetectorConfig.from_dict(json.loads((folder / "config.json").read_text()))
    det = Detector.from_config(config, pretrained_backbone=False)
    written = load_file(folder / "model.safetensors")
    det.load_tensors(written, str(folder))
    ours = det.trained_state_dict()
    assert sorted(ours) == sorted(written)
    for name, tensor in written.items():
        torch.testing.assert_close(ours[name].detach(), tensor, rtol=0, atol=0)
    det.save_pretrained(tmp := authors_files / f"resaved-{family}")
    assert sorted(load_file(tmp / "model.safetensors")) == sorted(written)


@pytest.mark.parametrize(
    "config_cls,model_cls",
    [("Dinov2Config", "Dinov2Model"), ("DINOv3ViTConfig", "DINOv3ViTModel")],
)
def test_own_checkpoints_use_the_names_transformers_writes_in_files(
    tmp_path, config_cls, model_cls
):
    """transformers' own save_pretrained spells the tower as dfdetect's checkpoints do, though
    transformers 5 holds these towers' blocks under other names in memory."""
    config = getattr(transformers, config_cls)(
        hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2
    )
    getattr(transformers, model_cls)(config).save_pretrained(tmp_path / "tower")
    in_file = set(load_file(tmp_path / "tower" / "model.safetensors"))
    config = DetectorConfig(backbone=str(tmp_path / "tower"))
    det = Detector.from_config(config, pretrained_backbone=False)
    saved = {k.removeprefix(TOWER_PREFIX) for k in det.trained_state_dict() if "head." not in k}
    assert len(saved) == 2 * 2 * 2 + 2 and saved <= in_file  # norm1/norm2 per block + final


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
        DINOV3_PROCESSOR(
            size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
            do_center_crop=True, resample=3,
        ).save_pretrained(tmp_path / "dinov3")  # fmt: skip
    reference_processor = (
        transformers.AutoImageProcessor.from_pretrained(tmp_path / "dinov3")
        if processor
        else DINOV3_PROCESSOR()  # the transformers defaults
    )
    # the tower as its own file names it (save_pretrained), never by the in-memory layout
    tower = load_file(tmp_path / "dinov3" / "model.safetensors")
    tensors = {f"feature_extractor.backbone.{k}": v for k, v in tower.items()}
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


# Original repository: model.torchscript -------------------------------------------------------


def test_torchscript_in_a_folder_loads_as_the_file(authors_files, monkeypatch):
    monkeypatch.chdir(authors_files)
    folder = authors_files / "torchscript"
    x, expected = expected_of(folder)
    with torch.no_grad():
        np.testing.assert_allclose(probs(Detector.from_pretrained(folder)(x)), expected, atol=1e-5)


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
