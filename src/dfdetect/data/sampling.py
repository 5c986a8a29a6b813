"""Which frames train, and in what order: N frames per video, fakes paired with their real
source video, balanced classes, sharded across distributed ranks. Pure Python (no torch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from dfdetect.data.samples import FAKE, REAL, FrameSample, group_by_video
from dfdetect.media.sampling import sample_frame_indices


def frames_per_video(
    samples: Sequence[FrameSample], n: int | None, mode: str = "even"
) -> list[FrameSample]:
    """At most ``n`` frames of every video (``None``: all), chosen by ``mode`` over the sorted
    frames as :func:`dfdetect.media.sample_frame_indices` picks frames from a video."""
    out: list[FrameSample] = []
    for frames in group_by_video(samples).values():
        if n is None:
            out += frames
        else:
            out += [frames[i] for i in sorted(sample_frame_indices(len(frames), n, mode))]
    return out


def _rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def training_units(
    samples: Sequence[FrameSample], *, pair_fakes: bool, balance: bool, seed: int, epoch: int
) -> list[tuple[int, ...]]:
    """Groups of sample indices that travel together through one epoch, shuffled.

    ``pair_fakes``: every fake frame comes with the same-position frame of its real source video
    (a random real frame when it has none), and every real frame left over with a random fake
    frame, so classes are balanced too. Otherwise ``balance`` oversamples the smaller class.
    """
    rng = _rng(seed, epoch)
    reals = [i for i, s in enumerate(samples) if s.label == REAL]
    fakes = [i for i, s in enumerate(samples) if s.label == FAKE]
    units: list[tuple[int, ...]]
    if pair_fakes and reals and fakes:
        by_video: dict[str, list[int]] = {}
        for i in reals:
            by_video.setdefault(samples[i].video_key, []).append(i)
        position: dict[int, int] = {}  # a fake frame's position within its own video
        seen: dict[str, int] = {}
        for i in fakes:
            key = samples[i].video_key
            position[i] = seen.get(key, 0)
            seen[key] = position[i] + 1
        units, used = [], set()
        for i in fakes:
            partners = by_video.get(samples[i].pair or "")
            j = (
                partners[position[i] % len(partners)]
                if partners
                else reals[rng.integers(len(reals))]
            )
            used.add(j)
            units.append((i, j))
        units += [(int(fakes[rng.integers(len(fakes))]), j) for j in reals if j not in used]
    elif balance and reals and fakes:
        small, large = sorted((reals, fakes), key=len)
        extra = rng.choice(small, size=len(large) - len(small), replace=True).tolist()
        units = [(i,) for i in (*large, *small, *extra)]
    else:
        units = [(i,) for i in range(len(samples))]
    order = rng.permutation(len(units))
    return [units[k] for k in order]


class EpochSampler:
    """Index order for a DataLoader: :func:`training_units` per epoch, sharded by rank.

    Every rank gets the same number of units (padded by wrap-around), so distributed ranks run
    the same number of steps. Call :meth:`set_epoch` before each epoch.
    """

    def __init__(
        self,
        samples: Sequence[FrameSample],
        *,
        seed: int = 0,
        pair_fakes: bool = True,
        balance: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.samples, self.seed, self.epoch, self.skip = samples, seed, 0, 0
        self.pair_fakes, self.balance = pair_fakes, balance
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Choose the epoch whose order :meth:`__iter__` yields, leaving out its first ``skip``
        indices (a resumed run continues mid-epoch without loading what it already used)."""
        self.epoch, self.skip = epoch, skip

    def _shard(self) -> list[tuple[int, ...]]:
        units = training_units(
            self.samples,
            pair_fakes=self.pair_fakes,
            balance=self.balance,
            seed=self.seed,
            epoch=self.epoch,
        )
        per_rank = -(-len(units) // self.world_size)
        units += units[: per_rank * self.world_size - len(units)]
        return units[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        indices = [i for unit in self._shard() for i in unit]
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return sum(len(u) for u in self._shard()) - self.skip
