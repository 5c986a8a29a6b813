"""Configuration dataclasses stored with every checkpoint (no torch import)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dfdetect.errors import CheckpointError
from dfdetect.faces.pipeline import FacePipeline
from dfdetect.faces.presets import CropPreset

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_NAME = "dfdetect"
ADAPTERS = ("layernorm", "lora", "linear-probe")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessConfig:
    """How a face crop becomes model input: resize, centre crop, normalise.

    ``resize_mode`` "shortest_edge" scales the shorter side to ``resize`` keeping the aspect ratio
    (then ``crop_size`` is centre-cropped); "exact" scales straight to ``crop_size`` squared.
    """

    crop_size: int = 224
    resize: int = 224
    resize_mode: str = "shortest_edge"
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    def __post_init__(self) -> None:
        if self.resize_mode not in ("shortest_edge", "exact"):
            raise CheckpointError(
                f"preprocess.resize_mode {self.resize_mode!r} is not one of "
                "'shortest_edge', 'exact'"
            )
        if self.interpolation not in ("bicubic", "bilinear"):
            raise CheckpointError(
                f"preprocess.interpolation {self.interpolation!r} is not one of "
                "'bicubic', 'bilinear'"
            )
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise CheckpointError."""
        return cls(**_known_keys(cls, data, "preprocess"))


@dataclass
class LoraOptions:
    """LoRA adapter settings (used when ``DetectorConfig.adapter == "lora"``)."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "v_proj")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraOptions:
        """Inverse of :meth:`to_dict`; unknown keys raise CheckpointError."""
        data = _known_keys(cls, data, "lora")
        if "targets" in data:
            data["targets"] = tuple(data["targets"])
        return cls(**data)


@dataclass
class DetectorConfig:
    """Everything needed to rebuild a detector and its input pipeline.

    ``backbone`` is a registry name, a Hub id or a local folder; ``preprocess`` defaults to the
    backbone's own preprocessing; ``face_pipeline`` is how the faces were detected, cut and
    sampled. ``source`` and ``source_format`` say where an imported model came from; ``onnx``
    marks an ONNX export (see :mod:`dfdetect.model.export`); ``pseudo_fakes`` records how the
    fakes of a model trained on generated ones were made (see :mod:`dfdetect.synth`).
    """

    backbone: str = "openai/clip-vit-large-patch14"
    preprocess: PreprocessConfig | None = None
    face_pipeline: FacePipeline = field(default_factory=FacePipeline)
    threshold: float = 0.5
    temperature: float = 1.0
    class_names: tuple[str, str] = ("real", "fake")
    adapter: str = "layernorm"
    lora: LoraOptions | None = None
    normalize_features: bool = True
    feature_dim: int | None = None
    dfdetect_version: str = ""
    source: str = ""
    source_format: str = "dfdetect"
    onnx: dict[str, Any] | None = None  # set in ONNX exports: opset, int8, file, source digest
    pseudo_fakes: dict[str, Any] | None = None  # trained on pseudo-fakes: method, hull, landmarks

    def __post_init__(self) -> None:
        if self.adapter not in ADAPTERS:
            raise CheckpointError(f"adapter {self.adapter!r} is not one of {', '.join(ADAPTERS)}")
        if self.adapter == "lora" and self.lora is None:
            self.lora = LoraOptions()
        if not self.temperature > 0:
            raise CheckpointError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.threshold <= 1.0:
            raise CheckpointError(f"threshold must be in [0, 1], got {self.threshold}")
        self.class_names = tuple(self.class_names)
        if len(self.class_names) != 2:
            raise CheckpointError(f"class_names must have 2 entries, got {list(self.class_names)}")
        if not self.dfdetect_version:
            from dfdetect.version import __version__

            self.dfdetect_version = __version__

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary, tagged with ``format: dfdetect``."""
        data = asdict(self)
        data["preprocess"] = self.preprocess.to_dict() if self.preprocess else None
        data["lora"] = self.lora.to_dict() if self.lora else None
        data["class_names"] = list(self.class_names)
        data["face_pipeline"] = self.face_pipeline.to_dict()
        return {"format": FORMAT_NAME, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise CheckpointError."""
        data = dict(data)
        if data.pop("format", FORMAT_NAME) != FORMAT_NAME:
            raise CheckpointError("config is not a dfdetect detector config")
        if "face_crop" in data:  # dfdetect 0.1 recorded only the crop preset
            crop = CropPreset.from_dict(data.pop("face_crop"))
            data["face_pipeline"] = FacePipeline(crop=crop).to_dict()
        data = _known_keys(cls, data, "config")
        if data.get("face_pipeline") is not None:
            try:
                data["face_pipeline"] = FacePipeline.from_dict(data["face_pipeline"])
            except (ValueError, TypeError) as err:
                raise CheckpointError(f"config: face_pipeline: {err}") from err
        if data.get("preprocess") is not None:
            data["preprocess"] = PreprocessConfig.from_dict(data["preprocess"])
        if data.get("lora") is not None:
            data["lora"] = LoraOptions.from_dict(data["lora"])
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the config as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DetectorConfig:
        """Read a config written by :meth:`save`."""
        return cls.from_dict(read_json(path))


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from ``path``; malformed files raise CheckpointError naming the file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: cannot read JSON ({err})") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _known_keys(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(f"{what}: unknown keys {unknown}; expected some of {sorted(names)}")
    return dict(data)
