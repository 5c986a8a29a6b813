"""The model: backbones, the LayerNorm-tuned detector, checkpoints and their import.

Importing this package is light (no torch); ``Detector`` and friends load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

DEFAULT_MODEL = "yermandy/GenD_CLIP_L_14"

if TYPE_CHECKING:
    from dfdetect.model.backbones import Backbone, create_backbone
    from dfdetect.model.config import DetectorConfig, LoraOptions, PreprocessConfig
    from dfdetect.model.detector import Detector
    from dfdetect.model.tuning import apply_layernorm_tuning, apply_lora

_LAZY = {
    "Detector": "dfdetect.model.detector",
    "DetectorConfig": "dfdetect.model.config",
    "PreprocessConfig": "dfdetect.model.config",
    "LoraOptions": "dfdetect.model.config",
    "Backbone": "dfdetect.model.backbones",
    "create_backbone": "dfdetect.model.backbones",
    "apply_layernorm_tuning": "dfdetect.model.tuning",
    "apply_lora": "dfdetect.model.tuning",
}

__all__ = [
    "DEFAULT_MODEL",
    "Backbone",
    "Detector",
    "DetectorConfig",
    "LoraOptions",
    "PreprocessConfig",
    "apply_layernorm_tuning",
    "apply_lora",
    "create_backbone",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dfdetect.model' has no attribute {name!r}")
