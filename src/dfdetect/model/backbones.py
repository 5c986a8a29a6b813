"""Vision backbones by name or folder: transformers CLIP, DINOv2 and SigLIP vision towers that
return one pooled feature per image."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import PreprocessConfig, read_json
from dfdetect.model.hub import is_local, resolve_folder
from dfdetect.model.registry import (
    ALIASES,
    BACKBONES,
    FAMILIES,
    TINY_RANDOM,
    BackboneSpec,
    family_preprocess,
    get_spec,
    known_backbones,
)

BACKBONE_FILES = ("config.json", "*.safetensors", "preprocessor_config.json")
RANDOM_SEED = 0


def _classes(family: str) -> tuple[type, type]:
    """(config class, model class) of a backbone family."""
    import transformers as tf

    return {
        "clip": (tf.CLIPVisionConfig, tf.CLIPVisionModel),
        "dinov2": (tf.Dinov2Config, tf.Dinov2Model),
        "siglip": (tf.SiglipVisionConfig, tf.SiglipVisionModel),
    }[family]


class Backbone(nn.Module):
    """A transformers vision tower returning its pooled feature (CLS after the final LayerNorm
    for CLIP and DINOv2, the attention-pool head for SigLIP)."""

    def __init__(self, name: str, family: str, model: nn.Module, preprocess: PreprocessConfig):
        super().__init__()
        self.name = name
        self.family = family
        self.model = model
        self.preprocess = preprocess
        self.feature_dim = int(model.config.hidden_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised pixels -> (B, feature_dim) pooled features."""
        return self.model(pixel_values=pixel_values).pooler_output


def spec_for(name_or_path: str | os.PathLike) -> BackboneSpec:
    """The backbone spec of a registry name/alias, or of a local folder / Hub id's config.json."""
    name = str(name_or_path)
    if name in BACKBONES or name in ALIASES:
        return get_spec(name)
    if not is_local(name) and name.count("/") != 1:
        get_spec(name)  # raises with the known names
    folder = resolve_folder(name, ["config.json"])
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(f"{folder}: no config.json, so the architecture is unknown")
    arch = read_json(config_path)
    model_type = arch.get("model_type")
    if model_type not in FAMILIES:
        raise ModelNotFoundError(
            f"{name}: model_type {model_type!r} is not a supported backbone "
            f"(supported: {', '.join(sorted(FAMILIES))}; registered names: "
            f"{', '.join(known_backbones())})"
        )
    family = FAMILIES[model_type]
    if model_type in ("clip", "siglip"):  # a full two-tower config: keep the vision half
        arch = {**arch["vision_config"], "model_type": f"{model_type}_vision_model"}
    size = int(arch.get("image_size", 224)) if family != "dinov2" else 224
    return BackboneSpec(name, family, arch, family_preprocess(family, size), name)


def create_backbone(name_or_path: str | os.PathLike, *, pretrained: bool = True) -> Backbone:
    """Build a backbone by registry name, alias, Hub id or local folder.

    ``pretrained=False`` builds the architecture with seeded random weights and downloads
    nothing. ``tiny-random`` is always random (and seeded, so rebuilding it gives the same
    weights).
    """
    spec = spec_for(name_or_path)
    config_cls, model_cls = _classes(spec.family)
    if pretrained and spec.name != TINY_RANDOM:
        folder = resolve_folder(spec.hub_id or spec.name, BACKBONE_FILES)
        if not any(Path(folder).glob("*.safetensors")):
            raise ModelNotFoundError(
                f"{spec.name}: no .safetensors weights in {folder} (dfdetect never loads pickled "
                ".bin/.pt weights; convert them to safetensors)"
            )
        model = model_cls.from_pretrained(folder, use_safetensors=True)
    else:
        arch = {k: v for k, v in spec.arch.items() if k != "model_type"}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = model_cls(config_cls(**arch))
    model.eval()
    return Backbone(spec.name, spec.family, model, spec.preprocess)
