"""What trains: the detector built for a run (fresh backbone or a checkpoint, with its data's
face-crop preset) and the module DDP wraps around it."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from dfdetect.train.config import ConfigError
from dfdetect.train.losses import slerp_augment
from dfdetect.train.settings import ModelConfig


class TrainModule(nn.Module):
    """What DDP wraps: features -> (optional slerp-augmented copies) -> head."""

    def __init__(self, detector, slerp: bool) -> None:
        super().__init__()
        self.detector, self.slerp = detector, slerp

    def forward(self, pixels: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        features = self.detector.features(pixels)
        if self.slerp:
            extra = slerp_augment(features, labels, generator)
            features, labels = torch.cat([features, extra]), torch.cat([labels, labels])
        return self.detector.head(features), features, labels


def build_detector(model: ModelConfig, device: torch.device, recorded: dict | None = None):
    """The detector to train (fp32 parameters), from ``model.init`` or a fresh backbone, with
    the face-crop preset of its data: ``recorded`` (from the extraction manifests) when
    ``model.face_crop`` is ``auto``, else the named preset, which must agree with ``recorded``."""
    from dfdetect.faces.presets import CropPreset, get_preset
    from dfdetect.model.config import DetectorConfig
    from dfdetect.model.detector import Detector
    from dfdetect.model.loading import load_predictor

    crop = model.face_crop
    if crop == "auto":
        face_crop = recorded or get_preset("gend").to_dict()
    else:
        face_crop = get_preset(crop).to_dict() if isinstance(crop, str) else dict(crop)
        if recorded is not None and recorded.get("name") != face_crop.get("name"):
            raise ConfigError(
                f"model.face_crop is {face_crop.get('name')!r} but the training crops were "
                f"extracted with {recorded.get('name')!r} (set model.face_crop=auto)"
            )
    if model.init:
        loaded = load_predictor(model.init, runtime="torch", device=device, dtype=torch.float32)
        detector = loaded.detector
    else:
        config = DetectorConfig(backbone=model.backbone, adapter=model.adapter)
        detector = Detector.from_config(
            config,
            device=device,
            dtype=torch.float32,
            pretrained_backbone=model.pretrained_backbone,
        )
    pipeline = detector.config.face_pipeline
    detector.config.face_pipeline = replace(pipeline, crop=CropPreset.from_dict(face_crop))
    return detector
