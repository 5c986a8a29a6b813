"""Run a detector over face-crop samples: logits per frame, unreadable crops reported."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from dfdetect.data.dataset import Collate, FrameDataset
from dfdetect.data.samples import FrameSample
from dfdetect.evaluate import EVAL_BATCH_SIZE
from dfdetect.progress import progress_bar


@dataclass
class Scores:
    """Logits (N, 2) in sample order (NaN rows for crops that could not be read) and the failed
    crops as (path, reason)."""

    logits: np.ndarray
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> np.ndarray:
        """Mask of samples that were scored."""
        return np.isfinite(self.logits).all(axis=1)


def autocast_for(
    device: torch.device, precision: str = "auto"
) -> contextlib.AbstractContextManager:
    """bf16 autocast for ``precision`` "bf16", or "auto" on CUDA; nothing for "fp32" or "auto"
    elsewhere (fp32 on CPU)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def score_samples(
    detector,
    samples: Sequence[FrameSample],
    *,
    batch_size: int = EVAL_BATCH_SIZE,
    num_workers: int = 0,
    progress: bool = True,
    description: str = "scoring",
    dataset: FrameDataset | None = None,
) -> Scores:
    """Logits of ``detector`` (a :class:`dfdetect.Detector`) for every sample, in order;
    ``dataset`` (default: ``FrameDataset(samples)``) loads them, e.g. with a perturbation."""
    logits = np.full((len(samples), 2), np.nan, dtype=np.float32)
    failures: list[tuple[str, str]] = []
    loader = DataLoader(
        FrameDataset(samples) if dataset is None else dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=Collate(samples),
        shuffle=False,
    )
    was_training = detector.training
    detector.eval()
    try:
        with progress_bar(enabled=progress) as bar, torch.inference_mode():
            task = bar.add_task(description, total=len(samples), unit="faces")
            for batch in loader:
                failures += batch.failures
                if len(batch):
                    with autocast_for(detector.device):
                        out = detector(detector.preprocess(batch.images))
                    logits[batch.indices.numpy()] = out.float().cpu().numpy()
                bar.advance(task, len(batch) + len(batch.failures))
    finally:
        detector.train(was_training)
    return Scores(logits, failures)


def fake_probabilities(detector, scores: Scores) -> np.ndarray:
    """P(fake) per sample with the detector's temperature (NaN where a crop failed)."""
    return detector.probabilities(torch.from_numpy(scores.logits)).numpy()
