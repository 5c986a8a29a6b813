"""Read the authors' checkpoints: the GenD Hugging Face format and the original Lightning
``model.ckpt`` (with or without peft LayerNorm tuning). Both hold the whole backbone; the keys are
renamed to dfdetect's file names (the tower's tensors keep the names its own files give them,
whatever transformers is installed), the LayerNorm copies peft tuned are the ones taken."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from dfdetect.errors import CheckpointError
from dfdetect.faces.pipeline import FIRST_PAPER_PIPELINE, GEND_PIPELINE, FacePipeline
from dfdetect.model.backbones import spec_for
from dfdetect.model.checkpoint import TOWER_PREFIX, Checkpoint, read_safetensors
from dfdetect.model.config import DetectorConfig
from dfdetect.model.families import get_family

GEND_MODEL_TYPE = "GenD"
# GenD's head names (HF config strings and the training code's enum names) -> L2 normalisation.
HEAD_NORMALIZES = {"linear": False, "Linear": False, "LinearNorm": True, "NLinear": True}
HEAD_PREFIX = "model.linear."
UNUSED_KEYS = ("visual_projection.weight",)  # CLIP's text-space projection, under the extractor
EXTRACTOR = "feature_extractor."
PEFT_WRAPPER = "base_model.model."  # peft's PeftModel -> LoraModel/LNTuningModel -> model
PEFT_TUNED = ".ln_tuning_layers.default."
PEFT_BASE = ".base_layer."


def unwrap_peft(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo peft's wrapping: drop the ``base_model.model.`` prefix and, for every LayerNorm that
    LN tuning wrapped, keep the tuned copy (``ln_tuning_layers.default``) under the plain name
    and drop the untuned ``base_layer`` one."""
    out: dict[str, torch.Tensor] = {}
    untuned: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if key.startswith(EXTRACTOR + PEFT_WRAPPER):
            key = EXTRACTOR + key[len(EXTRACTOR + PEFT_WRAPPER) :]
        if PEFT_TUNED in key:
            out[key.replace(PEFT_TUNED, ".")] = value
        elif PEFT_BASE in key:
            untuned[key.replace(PEFT_BASE, ".")] = value
        else:
            out[key] = value
    for key, value in untuned.items():  # wrapped without a tuned copy (LoRA): the base weight
        out.setdefault(key, value)
    return out


def rename_keys(tensors: dict[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    """The authors' keys -> ``backbone.model.<tower name>`` and ``head.*`` (unknown keys are
    kept, so strict loading names them)."""
    prefix = get_family(family).gend_prefix
    if prefix is None:
        raise CheckpointError(f"GenD checkpoints with a {family} backbone are not supported")
    unused = {EXTRACTOR + k for k in UNUSED_KEYS}
    mapped = {}
    for key, value in unwrap_peft(tensors).items():
        if key in unused:
            continue
        if key.startswith(prefix):
            key = TOWER_PREFIX + key[len(prefix) :]
        elif key.startswith(HEAD_PREFIX):
            key = "head." + key[len(HEAD_PREFIX) :]
        mapped[key] = value
    return mapped


def uses_peft(tensors: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict was saved from a peft-wrapped feature extractor."""
    return any(k.startswith(EXTRACTOR + PEFT_WRAPPER) for k in tensors)


def authors_checkpoint(
    tensors: dict[str, torch.Tensor],
    backbone: str,
    head: Any,
    source: str,
    source_format: str,
    pipeline: FacePipeline,
) -> Checkpoint:
    """A whole-backbone :class:`Checkpoint` from the authors' tensors and settings."""
    if head not in HEAD_NORMALIZES:
        raise CheckpointError(f"{source}: unknown head {head!r}; known: {sorted(HEAD_NORMALIZES)}")
    spec = spec_for(backbone)
    config = DetectorConfig(
        backbone=backbone,
        normalize_features=HEAD_NORMALIZES[head],
        face_pipeline=pipeline,
        source=source,
        source_format=source_format,
    )
    return Checkpoint(config, rename_keys(tensors, spec.family), whole_backbone=True)


def read_gend(folder: Path, config: dict[str, Any]) -> Checkpoint:
    """A GenD Hugging Face folder (config.json + model.safetensors)."""
    if "backbone" not in config:
        raise CheckpointError(f"{folder}/config.json: GenD config without a 'backbone'")
    weights = folder / "model.safetensors"
    return authors_checkpoint(
        read_safetensors(weights),
        config["backbone"],
        config.get("head", "linear"),
        str(weights),
        "gend",
        GEND_PIPELINE,
    )


def read_lightning(path: Path) -> Checkpoint:
    """The original training code's Lightning ``model.ckpt``.

    Loaded with ``torch.load(weights_only=True)``: a checkpoint that needs arbitrary Python
    objects is refused, never unpickled. Its faces were cut as the first paper's
    DeepfakeBench-style preprocessing does (ArcFace template, margin 1.3, 256 px, 32 evenly
    spaced frames)."""
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
    tensors = checkpoint["state_dict"]
    return authors_checkpoint(
        tensors,
        hparams["backbone"],
        hparams.get("head", "linear"),
        str(path),
        "lightning-peft" if uses_peft(tensors) else "lightning",
        FIRST_PAPER_PIPELINE,
    )
