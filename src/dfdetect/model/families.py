"""Backbone families: one row each for what differs between them (no torch import).

A row says which library builds the tower and with which classes, which output is the pooled
feature the head sees, the family's default preprocessing, where the tower's tensors sit in
the authors' GenD / Lightning checkpoints, and the tensor names transformers 5 spells differently
in memory than in files. Adding a family is adding a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import CLIP_MEAN, CLIP_STD, PreprocessConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Rename:
    """A module path that files spell ``file`` and some transformers versions hold as ``memory``
    (dotted parts of a tensor name: at its start with ``at_start``, else after any dot)."""

    file: str
    memory: str
    at_start: bool = False

    def _has(self, name: str, part: str) -> bool:
        return name.startswith(part) if self.at_start else f".{part}" in f".{name}"

    def _swap(self, name: str, old: str, new: str) -> str:
        if self.at_start:
            return new + name[len(old) :] if name.startswith(old) else name
        return f".{name}".replace(f".{old}", f".{new}", 1)[1:]

    def applies(self, memory_names: Iterable[str]) -> bool:
        """Whether a module with these tensor names holds the in-memory spelling."""
        names = list(memory_names)
        return not any(self._has(n, self.file) for n in names) and any(
            self._has(n, self.memory) for n in names
        )

    def to_memory(self, name: str) -> str:
        """The in-memory spelling of a file's tensor name."""
        return self._swap(name, self.file, self.memory)

    def to_file(self, name: str) -> str:
        """The file spelling of an in-memory tensor name."""
        return self._swap(name, self.memory, self.file)


class TensorNames:
    """One tower's tensor names in files and in memory: the family's renames that the built
    module's names call for (none under transformers 4.x, whose modules are named as its files
    are; timm never renames)."""

    def __init__(self, renames: Iterable[Rename], memory_names: Iterable[str]):
        names = list(memory_names)
        self.renames = [r for r in renames if r.applies(names)]

    def to_memory(self, name: str) -> str:
        """A file's tensor name -> this module's name for it."""
        for rename in self.renames:
            name = rename.to_memory(name)
        return name

    def to_file(self, name: str) -> str:
        """This module's tensor name -> the name files give it."""
        for rename in reversed(self.renames):
            name = rename.to_file(name)
        return name


# transformers 5 holds CLIP/SigLIP vision towers without the vision_model level files have.
VISION_MODEL = (Rename("vision_model.", "", at_start=True),)


@dataclass(frozen=True)
class Family:
    """What one backbone family needs.

    ``library`` is ``transformers`` (``classes`` are the config and model class names) or
    ``timm`` (the architecture comes from the timm model name). ``feature`` picks the pooled
    feature: ``pooler_output``, ``cls`` (token 0 of ``last_hidden_state``) or ``output`` (the
    model's output with its classifier head removed). ``gend_prefix`` is where the tower sits in
    the authors' checkpoints (its tensors named as the tower's own files name them);
    ``renames`` are the tensor names some transformers versions hold in memory differently
    from the files every version reads. ``processor_file`` means a backbone folder's
    ``preprocessor_config.json`` decides the preprocessing. ``onnx_fusion`` names the ONNX
    Runtime fusions (attention, skip-LayerNorm, GELU) that exports of the family get."""

    name: str
    library: str
    classes: tuple[str, str]
    feature: str
    preprocess: PreprocessConfig
    gend_prefix: str | None
    model_types: tuple[str, ...] = ()
    renames: tuple[Rename, ...] = ()
    processor_file: bool = False
    extra: str = ""  # the pip extra that brings the library, when it is not a core dependency
    onnx_fusion: str = ""  # onnxruntime.transformers model type whose fusions fit its graph

    def preprocess_at(self, size: int) -> PreprocessConfig:
        """The default preprocessing scaled to input ``size`` (the resize keeps its ratio)."""
        p = self.preprocess
        resize = round(size * p.resize / p.crop_size)
        return PreprocessConfig(size, resize, p.resize_mode, p.interpolation, p.mean, p.std)


_FAMILIES = [
    Family(
        "clip",
        "transformers",
        ("CLIPVisionConfig", "CLIPVisionModel"),
        "pooler_output",
        PreprocessConfig(224, 224, "shortest_edge", "bicubic", CLIP_MEAN, CLIP_STD),
        "feature_extractor.",  # holds vision_model.* (+ visual_projection, unused)
        model_types=("clip_vision_model", "clip"),
        renames=VISION_MODEL,
        onnx_fusion="clip",
    ),
    Family(
        "dinov2",
        "transformers",
        ("Dinov2Config", "Dinov2Model"),
        "pooler_output",  # the CLS token after the final LayerNorm
        # transformers BitImageProcessor defaults: shortest side 256 -> centre crop 224
        PreprocessConfig(224, 256, "shortest_edge", "bicubic", IMAGENET_MEAN, IMAGENET_STD),
        "feature_extractor.backbone.",
        model_types=("dinov2",),
        renames=tuple(
            Rename(f"attention.{old}.", f"attention.{new}.")
            for old, new in [
                ("attention.query", "q_proj"),
                ("attention.key", "k_proj"),
                ("attention.value", "v_proj"),
                ("output.dense", "o_proj"),
            ]
        ),
    ),
    Family(
        "siglip",
        "transformers",
        ("SiglipVisionConfig", "SiglipVisionModel"),
        "pooler_output",  # the attention-pool head
        PreprocessConfig(224, 224, "exact", "bicubic", HALF, HALF),
        None,
        model_types=("siglip_vision_model", "siglip"),
        renames=VISION_MODEL,
    ),
    Family(
        "dinov3",
        "transformers",
        ("DINOv3ViTConfig", "DINOv3ViTModel"),
        "cls",  # GenD: token 0 of last_hidden_state
        # transformers DINOv3 processor defaults: 224x224 bilinear, no crop, ImageNet mean/std
        PreprocessConfig(224, 224, "exact", "bilinear", IMAGENET_MEAN, IMAGENET_STD),
        "feature_extractor.backbone.",
        model_types=("dinov3_vit",),
        renames=(Rename("layer.", "model.layer.", at_start=True),),
        processor_file=True,
    ),
    Family(
        "pe",
        "timm",
        ("", "Eva"),
        "output",  # GenD: timm Eva, attention-pool output, classifier head removed
        # GenD runs PE at 224: shortest side 224 bicubic, centre crop, mean/std 0.5
        PreprocessConfig(224, 224, "shortest_edge", "bicubic", HALF, HALF),
        "feature_extractor.backbone.",
        extra="pe",
    ),
]
FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILIES}
# transformers config.json model_type -> family. Explicit: no dispatch by substring of a name.
MODEL_TYPES: dict[str, str] = {t: f.name for f in _FAMILIES for t in f.model_types}
# timm architectures (timm's config.json "architecture") -> family.
TIMM_ARCHITECTURES: dict[str, str] = {
    "vit_pe_core_tiny_patch16_384": "pe",
    "vit_pe_core_small_patch16_384": "pe",
    "vit_pe_core_base_patch16_224": "pe",
    "vit_pe_core_large_patch14_336": "pe",
    "vit_pe_core_gigantic_patch14_448": "pe",
}


def get_family(name: str) -> Family:
    """The family called ``name``; unknown names list the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown backbone family {name!r}; known: {sorted(FAMILIES)}"
        ) from None


def family_of_config(config: dict[str, Any], where: str) -> Family:
    """The family of a backbone folder's ``config.json`` (transformers or timm format)."""
    if "architecture" in config:  # timm's Hub format
        arch = config["architecture"]
        if arch not in TIMM_ARCHITECTURES:
            raise ModelNotFoundError(
                f"{where}: timm architecture {arch!r} is not a supported backbone "
                f"(supported: {', '.join(sorted(TIMM_ARCHITECTURES))})"
            )
        return FAMILIES[TIMM_ARCHITECTURES[arch]]
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ModelNotFoundError(
            f"{where}: model_type {model_type!r} is not a supported backbone "
            f"(supported: {', '.join(sorted(MODEL_TYPES))}, or a timm folder of "
            f"{', '.join(sorted(TIMM_ARCHITECTURES))})"
        )
    return FAMILIES[MODEL_TYPES[model_type]]


def preprocess_from_processor(data: dict[str, Any], where: str) -> PreprocessConfig:
    """Our preprocessing from a transformers ``preprocessor_config.json``."""
    resample = {2: "bilinear", 3: "bicubic"}
    size = data.get("size", {})
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if data.get("do_resize", True) is False:
        raise ModelNotFoundError(f"{where}: processors without resizing are not supported")
    if data.get("resample", 3) not in resample:
        raise ModelNotFoundError(f"{where}: resample {data.get('resample')!r} is not supported")
    interpolation = resample[data.get("resample", 3)]
    mean = tuple(data.get("image_mean", IMAGENET_MEAN))
    std = tuple(data.get("image_std", IMAGENET_STD))
    if "shortest_edge" in size:
        crop = data.get("crop_size", size["shortest_edge"])
        crop = crop.get("height", crop) if isinstance(crop, dict) else crop
        if not data.get("do_center_crop", True):
            crop = size["shortest_edge"]
        return PreprocessConfig(
            int(crop), int(size["shortest_edge"]), "shortest_edge", interpolation, mean, std
        )
    height, width = size.get("height"), size.get("width")
    if height is None or height != width:
        raise ModelNotFoundError(f"{where}: processor size {size!r} is not square")
    return PreprocessConfig(int(height), int(height), "exact", interpolation, mean, std)
