"""Pseudo-fakes in the training data: every real crop gets a virtual fake twin whose pixels the
DataLoader workers make on the fly (SBI), seeded by (run seed, epoch, sample index), so a
resumed run sees the same images. With ``pair_fakes`` each twin shares a batch with its real."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from dfdetect.data.samples import FAKE, REAL, DatasetError, FrameSample
from dfdetect.faces.presets import CropPreset
from dfdetect.synth.blend import RATIOS, self_blend
from dfdetect.synth.hull import HULL_NAME
from dfdetect.synth.landmarks import CropLandmarks
from dfdetect.synth.mask import MaskConfig

METHODS = ("sbi",)  # what the loader makes; ``dfdetect synth --method blend`` writes files
SOURCE_SUFFIX = "-sbi"  # a twin's source folder name: ``<real source>-sbi``
_STREAM = 0x5B1  # keeps the blend's random stream apart from the augmentation's


@dataclass(frozen=True)
class PseudoFakeConfig:
    """``data.pseudo_fakes``: ``method`` (``sbi``); ``keep_fakes`` False trains on the real
    crops alone (their own fakes left out), True mixes pseudo-fakes with the data's fakes."""

    method: str = "sbi"
    keep_fakes: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise DatasetError(
                f"pseudo_fakes.method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if not isinstance(self.keep_fakes, bool):
            raise DatasetError(f"pseudo_fakes.keep_fakes must be true or false: {self.keep_fakes}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PseudoFakeConfig | None:
        """From a config mapping; ``None`` or ``{"enabled": false}`` turns pseudo-fakes off."""
        if data is None or data.get("enabled", True) is False:
            return None
        if not isinstance(data, dict):
            raise DatasetError(f"pseudo_fakes must be a mapping, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"enabled"})
        if unknown:
            raise DatasetError(f"pseudo_fakes: unknown keys {unknown} (known: {sorted(known)})")
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """The ``data.pseudo_fakes`` mapping."""
        return asdict(self)


class PseudoFakes:
    """The DataLoader hook (picklable): ``(index, image, epoch)`` -> the image, blended when
    ``index`` is a twin (``index >= first``)."""

    def __init__(self, first: int, landmarks: np.ndarray, seed: int) -> None:
        self.first, self.landmarks, self.seed = first, landmarks, seed

    def __call__(self, index: int, image: np.ndarray, epoch: int) -> np.ndarray:
        if index < self.first:
            return image
        h, w = image.shape[:2]
        points = self.landmarks[index - self.first] * np.array([w, h], np.float32)
        rng = np.random.default_rng([self.seed, epoch, index, _STREAM])
        return self_blend(image, points, rng).image


def add_pseudo_fakes(
    samples: Sequence[FrameSample], config: PseudoFakeConfig, preset: CropPreset, seed: int
) -> tuple[list[FrameSample], PseudoFakes, dict[str, Any]]:
    """The training samples with a fake twin after them for every real crop, the hook that
    makes the twins' pixels, and the record a checkpoint keeps (method, hull, landmarks)."""
    reals = [s for s in samples if s.label == REAL]
    if not reals:
        raise DatasetError("data.pseudo_fakes needs real crops in data.train, found none")
    base = list(samples) if config.keep_fakes else reals
    twins = [
        replace(s, source=s.source + SOURCE_SUFFIX, label=FAKE, pair=s.video_key) for s in reals
    ]
    finder = CropLandmarks(preset)
    found = [finder.fractions(s.path) for s in reals]
    origins = sorted({origin for _, origin in found})
    record = {
        "method": config.method,
        "keep_fakes": config.keep_fakes,
        "hull": HULL_NAME,
        "landmarks": "+".join(origins),
        "mask": MaskConfig().to_dict(),
        "ratios": list(RATIOS),
    }
    landmarks = np.stack([points for points, _ in found]).astype(np.float32)
    return [*base, *twins], PseudoFakes(len(base), landmarks, seed), record
