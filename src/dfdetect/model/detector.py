"""The detector: backbone -> pooled feature -> L2 normalisation -> Linear(d, 2).

Class 0 is real, class 1 is fake; ``predict`` returns P(fake) per face with the temperature
applied.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.model.adapters import apply_layernorm_tuning, apply_lora, set_trainable
from dfdetect.model.backbones import RANDOM_SEED, Backbone, create_backbone
from dfdetect.model.checkpoint import load_strict, read_safetensors, write_safetensors
from dfdetect.model.config import CONFIG_NAME, WEIGHTS_NAME, DetectorConfig
from dfdetect.model.device import resolve_device, resolve_dtype
from dfdetect.model.preprocess import preprocess_faces
from dfdetect.model.registry import ALIASES, BACKBONES, TINY_RANDOM

TINY_RANDOM_WARNING = (
    "tiny-random is a tiny randomly initialised model for smoke tests: its scores mean nothing"
)
CHECKPOINT_FILES = ("config.json", "*.safetensors", "model.ckpt")


class Detector(nn.Module):
    """A face-deepfake detector; build it with :meth:`from_pretrained` or :meth:`from_config`."""

    def __init__(self, config: DetectorConfig, backbone: Backbone) -> None:
        super().__init__()
        if config.preprocess is None:
            config.preprocess = backbone.preprocess
        config.feature_dim = backbone.feature_dim
        self.config = config
        self.backbone = backbone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            self.head = nn.Linear(backbone.feature_dim, 2)
        self.trained_names = self._configure_adapter()
        self._warn_if_random()

    def _configure_adapter(self) -> list[str]:
        """Apply ``config.adapter``; returns the names of the parameters it trains."""
        names = ["head.weight", "head.bias"]
        if self.config.adapter in ("layernorm", "lora"):
            names += [f"backbone.{n}" for n in apply_layernorm_tuning(self.backbone)]
        if self.config.adapter == "lora":
            names += [f"backbone.{n}" for n in apply_lora(self.backbone, self.config.lora)]
        return set_trainable(self, names)

    def _warn_if_random(self) -> None:
        if self.config.backbone == TINY_RANDOM:
            warnings.warn(TINY_RANDOM_WARNING, UserWarning, stacklevel=3)

    # construction -------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        config: DetectorConfig,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        pretrained_backbone: bool = True,
    ) -> Detector:
        """A detector with ``config``'s backbone and a fresh (seeded) head.

        ``pretrained_backbone=False`` builds the backbone with random weights, downloading
        nothing (tests, benchmarks).
        """
        detector = cls(config, create_backbone(config.backbone, pretrained=pretrained_backbone))
        return detector.place(device, dtype)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> Detector:
        """Load a detector: ``tiny-random``, a Hub id or a local folder holding a dfdetect
        checkpoint, a GenD checkpoint (``yermandy/GenD_CLIP_L_14``) or a Lightning
        ``model.ckpt`` (a ``.ckpt`` file path works too)."""
        from dfdetect.model.hub import resolve_folder

        name = str(name_or_path)
        if name == TINY_RANDOM:
            return cls.from_config(DetectorConfig(backbone=TINY_RANDOM), device=device, dtype=dtype)
        if name in BACKBONES or name in ALIASES:
            raise ModelNotFoundError(
                f"{name!r} is a backbone, not a trained detector: load a detector checkpoint "
                "(e.g. yermandy/GenD_CLIP_L_14), or build an untrained one with "
                f"Detector.from_config(DetectorConfig(backbone={name!r}))"
            )
        path = Path(name).expanduser()
        if path.is_file():
            detector = cls._load_file(path)
        else:
            detector = cls._load_folder(resolve_folder(name, CHECKPOINT_FILES))
        return detector.place(device, dtype)

    @classmethod
    def _load_file(cls, path: Path) -> Detector:
        from dfdetect.model.gend import load_lightning

        if path.suffix != ".ckpt":
            raise CheckpointError(f"{path}: expected a model folder or a Lightning .ckpt file")
        return load_lightning(path)

    @classmethod
    def _load_folder(cls, folder: Path) -> Detector:
        from dfdetect.model.config import read_json
        from dfdetect.model.gend import GEND_MODEL_TYPE, load_gend, load_lightning

        config_path = folder / CONFIG_NAME
        data = read_json(config_path) if config_path.is_file() else {}
        if data.get("format") == "dfdetect":
            detector = cls(
                DetectorConfig.from_dict(data), create_backbone(data["backbone"], pretrained=True)
            )
            weights = folder / WEIGHTS_NAME
            load_strict(detector, read_safetensors(weights), detector.trained_names, str(weights))
            return detector
        if data.get("model_type") == GEND_MODEL_TYPE:
            return load_gend(folder, data)
        if (folder / "model.ckpt").is_file():
            return load_lightning(folder / "model.ckpt")
        found = sorted(p.name for p in folder.iterdir())[:10]
        raise CheckpointError(
            f"{folder}: not a dfdetect, GenD or Lightning checkpoint (config.json model_type="
            f"{data.get('model_type')!r}, files: {found})"
        )

    def place(
        self, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None
    ) -> Detector:
        """Move to ``device``/``dtype`` (None: automatic, see :mod:`dfdetect.model.device`)."""
        target = resolve_device(device)
        return self.to(device=target, dtype=resolve_dtype(dtype, target))

    # inference ----------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return self.head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' floating-point type."""
        return self.head.weight.dtype

    @property
    def threshold(self) -> float:
        """Decision threshold on P(fake)."""
        return self.config.threshold

    def preprocess(self, faces: Sequence[Any] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Aligned face crops -> (B, 3, S, S) model input on this detector's device and dtype."""
        return preprocess_faces(faces, self.config.preprocess, self.device, self.dtype)

    def pooled(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, d) raw pooled backbone features."""
        return self.backbone(pixel_values)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, d) L2-normalised features."""
        return F.normalize(self.pooled(pixel_values), dim=-1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 2) logits (class 0 real, 1 fake), no temperature."""
        pooled = self.pooled(pixel_values)
        return self.head(F.normalize(pooled, dim=-1) if self.config.normalize_features else pooled)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """P(fake) = softmax(logits / temperature)[:, 1], in float32."""
        return torch.softmax(logits.float() / self.config.temperature, dim=-1)[:, 1]

    def predict(
        self, faces: Sequence[Any] | np.ndarray | torch.Tensor, batch_size: int = 32
    ) -> np.ndarray:
        """P(fake) for each face, as an (N,) float32 array."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._warn_if_random()
        out = np.empty(len(faces), dtype=np.float32)
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(faces), batch_size):
                    logits = self(self.preprocess(faces[start : start + batch_size]))
                    probs = self.probabilities(logits)
                    out[start : start + len(probs)] = probs.cpu().numpy()
        finally:
            self.train(was_training)
        return out

    # checkpoints --------------------------------------------------------------------------

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the tensors the adapter trains (LayerNorm, head, LoRA)."""
        params = dict(self.named_parameters())
        return {name: params[name] for name in self.trained_names}

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (trained tensors only) to
        ``directory``; returns it."""
        from dfdetect import __version__

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        replace(self.config, dfdetect_version=__version__).save(directory / CONFIG_NAME)
        write_safetensors(
            directory / WEIGHTS_NAME,
            self.trained_state_dict(),
            {"format": "dfdetect", "backbone": self.config.backbone},
        )
        return directory
