"""Known backbones by name: architecture, feature size and preprocessing (no torch import).

Each entry records the vision tower's transformers config, so an architecture can be built with
random weights without any download, and where its pretrained weights live on the Hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import PreprocessConfig
from dfdetect.model.families import get_family

TINY_RANDOM = "tiny-random"


@dataclass(frozen=True)
class BackboneSpec:
    """A named vision tower: its family, architecture config and input pipeline.

    ``arch`` is the transformers config (with ``model_type``) or, for timm families, timm's
    ``architecture`` name and ``model_args``."""

    name: str
    family: str
    arch: dict[str, Any] = field(repr=False)
    preprocess: PreprocessConfig
    hub_id: str | None = None

    @property
    def feature_dim(self) -> int:
        """Size of the pooled feature the head sees."""
        if "hidden_size" in self.arch:
            return int(self.arch["hidden_size"])
        return int(self.arch["model_args"]["embed_dim"])


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


def _spec(
    name: str, family: str, arch: dict[str, Any], size: int = 224, hub_id: str | None = None
) -> BackboneSpec:
    hub_id = hub_id or (None if name == TINY_RANDOM else name)
    return BackboneSpec(name, family, arch, get_family(family).preprocess_at(size), hub_id)


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
    # DINOv3 ViT-L/16 as GenD_DINOv3_L uses it (its Hub repository is gated: the architecture
    # is recorded here so GenD checkpoints, which hold every weight, load without it).
    _spec(
        "facebook/dinov3-vitl16-pretrain-lvd1689m",
        "dinov3",
        {
            "model_type": "dinov3_vit",
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "patch_size": 16,
            "num_register_tokens": 4,
            "image_size": 224,
        },
    ),
    # Perception Encoder Core L/14 through timm, as GenD_PE_L builds it (run at 224).
    _spec(
        "vit_pe_core_large_patch14_336",
        "pe",
        {"architecture": "vit_pe_core_large_patch14_336", "model_args": {"embed_dim": 1024}},
        hub_id="timm/vit_pe_core_large_patch14_336.fb",
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
    "dinov3-l16": "facebook/dinov3-vitl16-pretrain-lvd1689m",
    "pe-l14": "vit_pe_core_large_patch14_336",
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
            "(or a local folder / Hub id of a CLIP, DINOv2, DINOv3, SigLIP or timm PE vision model)"
        ) from None
