"""A detector exported to ONNX, run by ONNX Runtime on the CPU with the Detector's inference API
(``predict``, ``preprocess``, ``probabilities``, calling it on pixels for logits)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfdetect.model.config import DetectorConfig
from dfdetect.model.preprocess import preprocess_faces
from dfdetect.runtime.sessions import ort_session

ONNX_NAME = "model.onnx"
INPUT_NAME, OUTPUT_NAME = "pixel_values", "logits"


def fake_probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """P(fake) = softmax(logits / temperature)[:, 1], in float32."""
    return torch.softmax(logits.float() / temperature, dim=-1)[:, 1]


def predict_batches(
    scorer, faces: Sequence[Any] | np.ndarray | torch.Tensor, batch_size: int
) -> np.ndarray:
    """P(fake) for each face as an (N,) float32 array, ``batch_size`` faces per call of
    ``scorer`` (a Detector or an OnnxDetector: ``preprocess``, call, ``probabilities``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out = np.empty(len(faces), dtype=np.float32)
    for start in range(0, len(faces), batch_size):
        probs = scorer.probabilities(scorer(scorer.preprocess(faces[start : start + batch_size])))
        out[start : start + len(probs)] = probs.cpu().numpy()
    return out


class OnnxDetector:
    """An exported detector (``config.json`` + ``model.onnx``) on ONNX Runtime.

    Inference only: no gradients, so no heatmaps and no training; everything else a
    :class:`~dfdetect.Detector` offers for scoring works the same, with the same results
    (within float rounding for fp32 graphs)."""

    training = False

    def __init__(self, config: DetectorConfig, path: str | os.PathLike):
        self.config = config
        self.path = Path(path)
        self.session = ort_session(self.path)
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    @property
    def threshold(self) -> float:
        """Decision threshold on P(fake)."""
        return self.config.threshold

    def eval(self) -> OnnxDetector:
        return self

    def train(self, mode: bool = True) -> OnnxDetector:
        if mode:
            raise RuntimeError(f"{self.path}: an ONNX model cannot be trained")
        return self

    def weights_digest(self) -> str:
        """sha256 of the graph file: results scored with it are interchangeable."""
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def preprocess(self, faces: Sequence[Any] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Aligned face crops -> (B, 3, S, S) float32 model input."""
        return preprocess_faces(faces, self.config.preprocess, self.device, self.dtype)

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 2) logits (class 0 real, 1 fake), no temperature."""
        x = pixel_values.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0])

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """P(fake) = softmax(logits / temperature)[:, 1], in float32."""
        return fake_probabilities(logits, self.config.temperature)

    def predict(
        self, faces: Sequence[Any] | np.ndarray | torch.Tensor, batch_size: int = 32
    ) -> np.ndarray:
        """P(fake) for each face, as an (N,) float32 array."""
        return predict_batches(self, faces, batch_size)
