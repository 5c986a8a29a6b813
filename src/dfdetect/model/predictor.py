"""What scores faces, whichever runtime runs it (:class:`Predictor`), and the one fingerprint
that identifies a detector (:func:`fingerprint`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch

from dfdetect.model.config import DetectorConfig

FINGERPRINT_VERSION = 1  # bump when what the fingerprint covers changes


class Predictor(Protocol):
    """The inference API scan, serve, evaluate and robustness use: a
    :class:`~dfdetect.model.detector.Detector` on PyTorch or an
    :class:`~dfdetect.model.onnx_detector.OnnxDetector` on ONNX Runtime."""

    config: DetectorConfig
    device: torch.device
    dtype: torch.dtype

    @property
    def threshold(self) -> float: ...

    def preprocess(self, faces: Sequence[Any] | np.ndarray | torch.Tensor) -> torch.Tensor: ...

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor: ...

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor: ...

    def predict(
        self, faces: Sequence[Any] | np.ndarray | torch.Tensor, batch_size: int = 32
    ) -> np.ndarray: ...

    def weights_digest(self) -> str: ...


def fingerprint(predictor: Predictor) -> str:
    """What identifies a detector: a hash of its config and its weights' digest (see
    ``weights_digest``). Results in the scan store, the robustness score cache, Ray scans and
    the ONNX Runtime export cache are keyed by it: equal fingerprints, interchangeable scores."""
    text = json.dumps(
        [FINGERPRINT_VERSION, predictor.config.to_dict(), predictor.weights_digest()],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]
