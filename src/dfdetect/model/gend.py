"""Import the checkpoints users already have: the GenD Hugging Face format and the original
Lightning ``model.ckpt``. Both hold the whole backbone under 4.x-style transformers names."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from dfdetect.errors import CheckpointError
from dfdetect.model.backbones import create_backbone
from dfdetect.model.checkpoint import load_strict, read_safetensors
from dfdetect.model.config import DetectorConfig
from dfdetect.model.detector import Detector

GEND_MODEL_TYPE = "GenD"
# GenD's head names (HF config strings and the training code's enum names) -> L2 normalisation.
HEAD_NORMALIZES = {"linear": False, "Linear": False, "LinearNorm": True, "NLinear": True}
# Where each backbone family's tower sits in the GenD/Lightning state dict.
BACKBONE_PREFIXES = {
    "clip": "feature_extractor.vision_model.",
    "dinov2": "feature_extractor.backbone.",
}
HEAD_PREFIX = "model.linear."
UNUSED_KEYS = {"feature_extractor.visual_projection.weight"}  # CLIP's text-space projection


def map_gend_keys(tensors: dict[str, torch.Tensor], detector: Detector) -> dict[str, torch.Tensor]:
    """Rename GenD/Lightning keys to this detector's parameter names (unknown keys are kept as
    they are, so strict loading names them)."""
    family = detector.backbone.family
    if family not in BACKBONE_PREFIXES:
        raise CheckpointError(f"GenD checkpoints with a {family} backbone are not supported")
    source = BACKBONE_PREFIXES[family]
    # transformers 4.x nests CLIPVisionModel's modules under `vision_model.`, 5.x does not.
    nested = "vision_model." if hasattr(detector.backbone.model, "vision_model") else ""
    mapped = {}
    for key, value in tensors.items():
        if key in UNUSED_KEYS:
            continue
        if key.startswith(source):
            key = f"backbone.model.{nested}{key[len(source) :]}"
        elif key.startswith(HEAD_PREFIX):
            key = f"head.{key[len(HEAD_PREFIX) :]}"
        mapped[key] = value
    return mapped


def _import(tensors: dict[str, torch.Tensor], backbone: str, head: Any, source: str) -> Detector:
    if head not in HEAD_NORMALIZES:
        raise CheckpointError(f"{source}: unknown head {head!r}; known: {sorted(HEAD_NORMALIZES)}")
    config = DetectorConfig(
        backbone=backbone, normalize_features=HEAD_NORMALIZES[head], source=source
    )
    # The checkpoint holds every backbone weight: build the architecture only, then load all.
    detector = Detector(config, create_backbone(backbone, pretrained=False))
    expected = [f"backbone.{k}" for k in detector.backbone.state_dict()]
    expected += ["head.weight", "head.bias"]
    load_strict(detector, map_gend_keys(tensors, detector), expected, source)
    return detector


def load_gend(folder: Path, config: dict[str, Any]) -> Detector:
    """A detector from a GenD Hugging Face folder (config.json + model.safetensors)."""
    if "backbone" not in config:
        raise CheckpointError(f"{folder}/config.json: GenD config without a 'backbone'")
    weights = folder / "model.safetensors"
    return _import(
        read_safetensors(weights), config["backbone"], config.get("head", "linear"), str(weights)
    )


def load_lightning(path: Path) -> Detector:
    """A detector from the original training code's Lightning ``model.ckpt``.

    Loaded with ``torch.load(weights_only=True)``: a checkpoint that needs arbitrary Python
    objects is refused, never unpickled.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as err:
        raise CheckpointError(
            f"{path}: cannot be loaded safely with torch.load(weights_only=True) ({err}). "
            "dfdetect never unpickles arbitrary objects; re-save the checkpoint's state_dict and "
            "hyper_parameters as plain tensors, strings and numbers"
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    hparams = checkpoint.get("hyper_parameters") or {}
    if "backbone" not in hparams:
        raise CheckpointError(f"{path}: hyper_parameters lack 'backbone'")
    return _import(
        checkpoint["state_dict"], hparams["backbone"], hparams.get("head", "linear"), str(path)
    )
