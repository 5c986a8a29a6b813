"""The detector: backbone -> pooled feature -> L2 normalisation -> Linear(d, 2).

Class 0 is real, class 1 is fake; ``predict`` returns P(fake) per face with the temperature
applied.
"""

from __future__ import annotations

import hashlib
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

from dfdetect.errors import ModelNotFoundError
from dfdetect.model.backbones import RANDOM_SEED, Backbone, create_backbone
from dfdetect.model.checkpoint import TOWER_PREFIX, Checkpoint, load_strict, write_safetensors
from dfdetect.model.config import CONFIG_NAME, WEIGHTS_NAME, DetectorConfig
from dfdetect.model.device import resolve_device, resolve_dtype
from dfdetect.model.onnx_detector import fake_probabilities, predict_batches
from dfdetect.model.preprocess import preprocess_faces
from dfdetect.model.registry import TINY_RANDOM
from dfdetect.model.tuning import apply_layernorm_tuning, apply_lora, set_trainable

TINY_RANDOM_WARNING = (
    "tiny-random is a tiny randomly initialised model for smoke tests: its scores mean nothing"
)


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
        self.renamed_keys = 0  # checkpoint names converted from file to in-memory spelling
        # where the backbone's frozen weights come from: "pretrained" (its published weights),
        # "seeded" (random, seeded) or "checkpoint" (the checkpoint, or unknown)
        self.backbone_origin = "checkpoint"
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
        detector.backbone_origin = _origin(config, pretrained_backbone)
        return detector.place(device, dtype)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> Detector:
        """Load a detector: ``tiny-random``, or a Hub id, folder or file holding a dfdetect
        checkpoint, a GenD checkpoint (``yermandy/GenD_CLIP_L_14``, ``_PE_L``, ``_DINOv3_L``),
        a Lightning ``model.ckpt`` or a TorchScript ``model.torchscript`` (see
        :mod:`dfdetect.model.loading`). An ONNX export is no PyTorch model: it is refused
        (load it with :func:`dfdetect.model.loading.load_predictor`)."""
        from dfdetect.model.loading import read_checkpoint

        checkpoint = read_checkpoint(name_or_path)
        if checkpoint.onnx is not None:
            raise ModelNotFoundError(
                f"{checkpoint.onnx.parent} is an ONNX export, not a PyTorch model: load it with "
                "dfdetect.model.loading.load_predictor (it runs on ONNX Runtime)"
            )
        return cls.from_checkpoint(checkpoint, device=device, dtype=dtype)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: Checkpoint,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> Detector:
        """The detector of a checkpoint read by :mod:`dfdetect.model.loading` (not an ONNX
        export)."""
        pretrained = not checkpoint.whole_backbone
        backbone = create_backbone(checkpoint.config.backbone, pretrained=pretrained)
        detector = cls(checkpoint.config, backbone)
        if pretrained:  # else the checkpoint holds the whole backbone: "checkpoint"
            detector.backbone_origin = _origin(checkpoint.config, pretrained)
        detector.load_checkpoint(checkpoint)
        return detector.place(device, dtype)

    def load_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Copy a checkpoint's tensors in (see :meth:`load_tensors`)."""
        if not checkpoint.tensors and checkpoint.config.backbone == TINY_RANDOM:
            return
        source = checkpoint.config.source or "checkpoint"
        self.load_tensors(checkpoint.tensors, source, whole_backbone=checkpoint.whole_backbone)

    def load_tensors(
        self, tensors: dict[str, torch.Tensor], source: str, *, whole_backbone: bool = False
    ) -> None:
        """Copy tensors named as files name them (:meth:`file_name`) in, strictly: every
        expected tensor present, nothing else, every shape right. Whole-backbone tensors fill
        the backbone and the head (non-persistent buffers they carry, e.g. TorchScript's, are
        derived and skipped); others fill the trained tensors."""
        renamed = {self.memory_name(k): v for k, v in tensors.items()}
        self.renamed_keys = sum(self.memory_name(k) != k for k in tensors)
        if not whole_backbone:
            load_strict(self, renamed, self.trained_names, source, self.file_name)
            return
        persistent = {f"backbone.{k}" for k in self.backbone.state_dict()}
        derived = {f"backbone.{k}" for k, _ in self.backbone.named_buffers()} - persistent
        renamed = {k: v for k, v in renamed.items() if k not in derived}
        expected = [*sorted(persistent), "head.weight", "head.bias"]
        load_strict(self, renamed, expected, source, self.file_name)

    def memory_name(self, name: str) -> str:
        """A tensor name as files spell it -> this detector's parameter name (they differ where
        the installed transformers holds modules differently from its files)."""
        if name.startswith(TOWER_PREFIX):
            return TOWER_PREFIX + self.backbone.names.to_memory(name[len(TOWER_PREFIX) :])
        return name

    def file_name(self, name: str) -> str:
        """A parameter name -> the name checkpoints give it, the same under every transformers
        version (the names transformers' own files use for the tower)."""
        if name.startswith(TOWER_PREFIX):
            return TOWER_PREFIX + self.backbone.names.to_file(name[len(TOWER_PREFIX) :])
        return name

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
        return fake_probabilities(logits, self.config.temperature)

    def predict(
        self, faces: Sequence[Any] | np.ndarray | torch.Tensor, batch_size: int = 32
    ) -> np.ndarray:
        """P(fake) for each face, as an (N,) float32 array."""
        self._warn_if_random()
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return predict_batches(self, faces, batch_size)
        finally:
            self.train(was_training)

    # checkpoints --------------------------------------------------------------------------

    def weights_digest(self, everything: bool | None = None) -> str:
        """sha256 of the tensors that identify this detector: the trained ones and where the
        backbone's frozen weights come from (:attr:`backbone_origin`), or every tensor when they
        come from a checkpoint (``everything``: always every tensor). Results scored with equal
        digests and configs are interchangeable."""
        digest = hashlib.sha256()
        if everything is None:
            everything = self.backbone_origin == "checkpoint"
        if everything:
            tensors = {self.file_name(k): v for k, v in self.state_dict().items()}
        else:
            digest.update(f"backbone:{self.backbone_origin}".encode())
            tensors = self.trained_state_dict()
        for name, tensor in sorted(tensors.items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the tensors the adapter trains (LayerNorm, head, LoRA), named as files name
        them (:meth:`file_name`)."""
        params = dict(self.named_parameters())
        return {self.file_name(name): params[name] for name in self.trained_names}

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (trained tensors only, named as
        files name them, so it loads under any supported transformers) to ``directory``;
        returns it."""
        from dfdetect.version import __version__

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        replace(self.config, dfdetect_version=__version__).save(directory / CONFIG_NAME)
        write_safetensors(
            directory / WEIGHTS_NAME,
            self.trained_state_dict(),
            {"format": "dfdetect", "backbone": self.config.backbone},
        )
        return directory


def _origin(config: DetectorConfig, pretrained: bool) -> str:
    """:attr:`Detector.backbone_origin` of a backbone built ``pretrained`` or not."""
    return "pretrained" if pretrained and config.backbone != TINY_RANDOM else "seeded"
