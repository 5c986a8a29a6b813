"""The crops stage: aligned face crops perturbed as they are loaded, each with its own seed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from dfdetect.data.dataset import FrameDataset
from dfdetect.data.samples import FrameSample
from dfdetect.errors import MediaError
from dfdetect.robustness.perturbations import Cell


def item_seed(seed: int, cell: Cell, source: str, video: str, frame: str) -> int:
    """The seed of one crop or frame in one cell: it depends on what the image is (not on its
    position in a run), so every model and every run sees the same pixels."""
    text = f"{seed}|{cell.name}|{source}|{video}|{frame}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")


def perturb_sample(image: np.ndarray, sample: FrameSample, cell: Cell, seed: int) -> np.ndarray:
    """One crop perturbed by ``cell`` with its :func:`item_seed`."""
    return cell.apply(image, item_seed(seed, cell, sample.source, sample.video, sample.frame))


class PerturbedFrames(FrameDataset):
    """Face crops as :class:`FrameDataset` loads them, then perturbed by one cell."""

    def __init__(self, samples: Sequence[FrameSample], cell: Cell, seed: int = 0) -> None:
        super().__init__(samples)
        self.cell = cell
        self.perturb_seed = seed

    def __getitem__(self, index: int) -> tuple[int, np.ndarray | MediaError]:
        index, image = super().__getitem__(index)
        if isinstance(image, MediaError):
            return index, image
        return index, perturb_sample(image, self.samples[index], self.cell, self.perturb_seed)
