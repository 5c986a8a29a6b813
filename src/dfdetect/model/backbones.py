"""Vision backbones by name or folder, built as their family's row says: transformers CLIP,
DINOv2, DINOv3 and SigLIP towers, and timm's Perception Encoder; each returns one pooled feature
per image."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.model.checkpoint import read_safetensors
from dfdetect.model.config import PreprocessConfig, read_json
from dfdetect.model.families import (
    Family,
    TensorNames,
    family_of_config,
    get_family,
    preprocess_from_processor,
)
from dfdetect.model.registry import (
    ALIASES,
    BACKBONES,
    TINY_RANDOM,
    BackboneSpec,
    get_spec,
)
from dfdetect.runtime.hub import is_local, resolve_folder

BACKBONE_FILES = ("config.json", "*.safetensors", "preprocessor_config.json")
RANDOM_SEED = 0
GEND_INPUT_SIZE = 224  # GenD runs every timm backbone at 224 (dynamic position embeddings)


class Backbone(nn.Module):
    """A vision tower returning its family's pooled feature."""

    def __init__(self, spec: BackboneSpec, model: nn.Module):
        super().__init__()
        self.name = spec.name
        self.family = spec.family
        self.model = model
        self.preprocess = spec.preprocess
        self.feature_dim = spec.feature_dim
        family = get_family(spec.family)
        self._feature = family.feature
        self.names = TensorNames(family.renames, model.state_dict())

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised pixels -> (B, feature_dim) pooled features."""
        if self._feature == "output":
            return self.model(pixel_values)
        out = self.model(pixel_values=pixel_values)
        if self._feature == "pooler_output":
            return out.pooler_output
        return out.last_hidden_state[:, 0]


def spec_for(name_or_path: str | os.PathLike) -> BackboneSpec:
    """The backbone spec of a registry name/alias, or of a local folder / Hub id's config.json
    (transformers or timm format)."""
    name = str(name_or_path)
    if name in BACKBONES or name in ALIASES:
        return get_spec(name)
    if not is_local(name) and name.count("/") != 1:
        get_spec(name)  # raises with the known names
    folder = resolve_folder(name, ["config.json", "preprocessor_config.json"])
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(f"{folder}: no config.json, so the architecture is unknown")
    config = read_json(config_path)
    family = family_of_config(config, name)
    if family.library == "timm":
        return _timm_spec(name, family, config)
    arch = dict(config)
    if arch["model_type"] in ("clip", "siglip"):  # a full two-tower config: keep the vision half
        arch = {**arch["vision_config"], "model_type": f"{arch['model_type']}_vision_model"}
    processor = folder / "preprocessor_config.json"
    if family.processor_file and processor.is_file():
        preprocess = preprocess_from_processor(read_json(processor), str(processor))
    elif family.name in ("clip", "siglip"):
        preprocess = family.preprocess_at(int(arch.get("image_size", 224)))
    else:
        preprocess = family.preprocess
    return BackboneSpec(name, family.name, arch, preprocess, name)


def _timm_spec(name: str, family: Family, config: dict[str, Any]) -> BackboneSpec:
    """A timm Hub-format folder: architecture, model_args and its pretrained_cfg's transform,
    with the input forced to 224 as GenD runs it."""
    model_args = dict(config.get("model_args") or {})
    model_args.setdefault("embed_dim", int(config["num_features"]))
    cfg = config.get("pretrained_cfg") or {}
    base = family.preprocess
    crop_pct = float(cfg.get("crop_pct", 1.0))
    preprocess = PreprocessConfig(
        GEND_INPUT_SIZE,
        math.floor(GEND_INPUT_SIZE / crop_pct),
        "shortest_edge",
        cfg.get("interpolation", base.interpolation),
        tuple(cfg.get("mean", base.mean)),
        tuple(cfg.get("std", base.std)),
    )
    arch = {"architecture": config["architecture"], "model_args": model_args}
    return BackboneSpec(name, family.name, arch, preprocess, name)


def _build(spec: BackboneSpec) -> nn.Module:
    """The architecture of ``spec`` with seeded random weights (nothing downloaded)."""
    family = get_family(spec.family)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        if family.library == "timm":
            try:
                import timm
            except ImportError as err:
                raise ModelNotFoundError(
                    f"{spec.name}: {family.name} backbones need timm: "
                    f'pip install "dfdetect[{family.extra}]"'
                ) from err
            model = timm.create_model(
                spec.arch["architecture"],
                pretrained=False,
                dynamic_img_size=True,
                **spec.arch["model_args"],
            )
            model.head = nn.Identity()  # GenD removes the classifier / projection head
            return model
        import transformers

        config_cls, model_cls = (getattr(transformers, c) for c in family.classes)
        arch = {k: v for k, v in spec.arch.items() if k != "model_type"}
        return model_cls(config_cls(**arch))


def _load_pretrained(spec: BackboneSpec) -> nn.Module:
    folder = resolve_folder(spec.hub_id or spec.name, BACKBONE_FILES)
    weights = sorted(Path(folder).glob("*.safetensors"))
    if not weights:
        raise ModelNotFoundError(
            f"{spec.name}: no .safetensors weights in {folder} (dfdetect never loads pickled "
            ".bin/.pt weights; convert them to safetensors)"
        )
    family = get_family(spec.family)
    if family.library == "transformers":
        import transformers

        model_cls = getattr(transformers, family.classes[1])
        return model_cls.from_pretrained(folder, use_safetensors=True)
    model = _build(spec)
    tensors = {k: v for k, v in read_safetensors(weights[0]).items() if not k.startswith("head.")}
    result = model.load_state_dict(tensors, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{weights[0]} does not fit {spec.name}: missing {result.missing_keys[:8]}, "
            f"unexpected {result.unexpected_keys[:8]}"
        )
    return model


def create_backbone(name_or_path: str | os.PathLike, *, pretrained: bool = True) -> Backbone:
    """Build a backbone by registry name, alias, Hub id or local folder.

    ``pretrained=False`` builds the architecture with seeded random weights and downloads
    nothing. ``tiny-random`` is always random (and seeded, so rebuilding it gives the same
    weights).
    """
    spec = spec_for(name_or_path)
    model = _load_pretrained(spec) if pretrained and spec.name != TINY_RANDOM else _build(spec)
    model.eval()
    return Backbone(spec, model)
