"""A torch Dataset over face-crop samples: load, augment, batch. Unreadable crops are reported
with their path and reason and left out of the batch; they never stop a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from dfdetect.data.augment import AugmentConfig, augment
from dfdetect.data.samples import FrameSample
from dfdetect.errors import MediaError
from dfdetect.media import load_image


@dataclass
class Batch:
    """Images as a uint8 (B, H, W, 3) tensor (a list of tensors when sizes differ), labels,
    sample indices and the crops that could not be read as (path, reason)."""

    images: torch.Tensor | list[torch.Tensor]
    labels: torch.Tensor
    indices: torch.Tensor
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


class FrameDataset(Dataset):
    """Samples as ``(index, image uint8 HxWx3 | MediaError)``; with ``augment`` each sample's
    augmentation depends only on (seed, epoch, index), so runs repeat and resume exactly.
    ``synthesize(index, image, epoch)``, when given, transforms each loaded image before the
    augmentation (pseudo-fakes: :mod:`dfdetect.synth.training`)."""

    def __init__(
        self,
        samples: Sequence[FrameSample],
        augment_config: AugmentConfig | None = None,
        seed: int = 0,
        synthesize: Callable[[int, np.ndarray, int], np.ndarray] | None = None,
    ) -> None:
        self.samples = samples
        self.augment_config = augment_config
        self.seed = seed
        self.synthesize = synthesize
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Epoch number mixed into the augmentation seed."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray | MediaError]:
        sample = self.samples[index]
        try:
            image = load_image(sample.path)
        except MediaError as exc:
            return index, exc
        if self.synthesize is not None:
            image = self.synthesize(index, image, self.epoch)
        if self.augment_config is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image = augment(image, self.augment_config, rng)
        return index, image


def collate(items: list[tuple[int, np.ndarray | MediaError]], labels: Sequence[int]) -> Batch:
    """Stack loaded images (same size: one tensor); failed loads go to ``failures``."""
    good = [(i, img) for i, img in items if not isinstance(img, MediaError)]
    failures = [(err.path, err.reason) for _, err in items if isinstance(err, MediaError)]
    tensors = [torch.from_numpy(np.require(img, requirements="W")) for _, img in good]
    same = len({t.shape for t in tensors}) == 1
    return Batch(
        images=torch.stack(tensors) if same else tensors,
        labels=torch.tensor([labels[i] for i, _ in good], dtype=torch.long),
        indices=torch.tensor([i for i, _ in good], dtype=torch.long),
        failures=failures,
    )


class Collate:
    """Picklable collate function for DataLoader worker processes."""

    def __init__(self, samples: Sequence[FrameSample]) -> None:
        self.labels = [s.label for s in samples]

    def __call__(self, items: list[tuple[int, np.ndarray | MediaError]]) -> Batch:
        return collate(items, self.labels)
