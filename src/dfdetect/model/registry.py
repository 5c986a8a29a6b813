"""Known backbones by name: architecture, feature size and preprocessing (no torch import).

Each entry records the vision tower's transformers config, so an architecture can be built with
random weights without any download, and where its pretrained weights live on the Hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import CLIP_MEAN, CLIP_STD, PreprocessConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TINY_RANDOM = "tiny-random"

# transformers model_type -> backbone family. Explicit: no dispatch by substring of a name.
FAMILIES: dict[str, str] = {
    "clip_vision_model": "clip",
    "clip": "clip",
    "dinov2": "dinov2",
    "siglip_vision_model": "siglip",
    "siglip": "siglip",
}


@dataclass(frozen=True)
class BackboneSpec:
    """A named vision tower: its family, architecture config and input pipeline."""

    name: str
    family: str
    arch: dict[str, Any] = field(repr=False)
    preprocess: PreprocessConfig
    hub_id: str | None = None

    @property
    def feature_dim(self) -> int:
        """Size of the pooled feature the head sees."""
        return int(self.arch["hidden_size"])


def clip_preprocess(size: int = 224) -> PreprocessConfig:
    """CLIP: shortest side to ``size`` (bicubic), centre crop, OpenAI mean/std."""
    return PreprocessConfig(size, size, "shortest_edge", "bicubic", CLIP_MEAN, CLIP_STD)


def family_preprocess(family: str, size: int = 224) -> PreprocessConfig:
    """The standard preprocessing of a backbone family at input ``size``."""
    if family == "clip":
        return clip_preprocess(size)
    if family == "dinov2":  # transformers BitImageProcessor defaults: 256 -> crop 224
        return PreprocessConfig(
            size, round(size * 256 / 224), "shortest_edge", "bicubic", IMAGENET_MEAN, IMAGENET_STD
        )
    if family == "siglip":
        return PreprocessConfig(size, size, "exact", "bicubic", (0.5,) * 3, (0.5,) * 3)
    known = sorted(set(FAMILIES.values()))
    raise ModelNotFoundError(f"unknown backbone family {family!r}; known: {known}")


def _clip(hidden: int, layers: int, heads: int, patch: int, size: int = 224) -> dict[str, Any]:
    return {
        "model_type": "clip_vision_model",
        "hidden_size": hidden,
        "intermediate_size": 4 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "patch_size": patch,
        "image_size": size,
        "hidden_act": "quick_gelu",
        "projection_dim": 768 if hidden >= 1024 else 512,
    }


def _spec(name: str, family: str, arch: dict[str, Any], size: int = 224) -> BackboneSpec:
    hub_id = None if name == TINY_RANDOM else name
    return BackboneSpec(name, family, arch, family_preprocess(family, size), hub_id)


_SPECS = [
    _spec("openai/clip-vit-large-patch14", "clip", _clip(1024, 24, 16, 14)),
    _spec("openai/clip-vit-large-patch14-336", "clip", _clip(1024, 24, 16, 14, 336), 336),
    _spec("openai/clip-vit-base-patch16", "clip", _clip(768, 12, 12, 16)),
    _spec("openai/clip-vit-base-patch32", "clip", _clip(768, 12, 12, 32)),
    _spec(
        "facebook/dinov2-base",
        "dinov2",
        {
            "model_type": "dinov2",
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "patch_size": 14,
            "image_size": 518,
        },
    ),
    _spec(
        "facebook/dinov2-large",
        "dinov2",
        {
            "model_type": "dinov2",
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "patch_size": 14,
            "image_size": 518,
        },
    ),
    _spec(
        "google/siglip-base-patch16-224",
        "siglip",
        {
            "model_type": "siglip_vision_model",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "patch_size": 16,
            "image_size": 224,
        },
    ),
    # A real CLIP vision config, tiny: the same code path as ViT-L/14, fast on a CPU.
    _spec(
        TINY_RANDOM, "clip", {**_clip(32, 2, 4, 32), "intermediate_size": 64, "projection_dim": 16}
    ),
]
BACKBONES: dict[str, BackboneSpec] = {spec.name: spec for spec in _SPECS}

# Short names for the architectures (benchmarks, random-weight builds).
ALIASES: dict[str, str] = {
    "vit-l14": "openai/clip-vit-large-patch14",
    "vit-l14-336": "openai/clip-vit-large-patch14-336",
    "vit-b16": "openai/clip-vit-base-patch16",
    "vit-b32": "openai/clip-vit-base-patch32",
    "dinov2-b14": "facebook/dinov2-base",
    "dinov2-l14": "facebook/dinov2-large",
    "siglip-b16": "google/siglip-base-patch16-224",
}


def known_backbones() -> list[str]:
    """Every registered name and alias."""
    return sorted(BACKBONES) + sorted(ALIASES)


def get_spec(name: str) -> BackboneSpec:
    """The registered backbone called ``name`` (or an alias); unknown names list the known."""
    name = ALIASES.get(name, name)
    try:
        return BACKBONES[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown backbone {name!r}; known: {', '.join(known_backbones())} "
            "(or a local folder / Hub id of a CLIP, DINOv2 or SigLIP vision model)"
        ) from None
