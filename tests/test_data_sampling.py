"""Frames per video, real/fake pairing, class balance, rank sharding, augmentations."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dfdetect.data.augment import AugmentConfig, augment
from dfdetect.data.samples import FAKE, REAL, DatasetError, FrameSample
from dfdetect.data.sampling import EpochSampler, frames_per_video, training_units


def _video(source: str, video: str, label: int, n: int, pair: str | None = None):
    return [
        FrameSample("D", source, video, f"{f:03d}", label, Path(f"{video}/{f}.png"), pair=pair)
        for f in range(n)
    ]


@pytest.fixture
def ffpp_like():
    """2 real videos, 4 fakes of the first (as FF++'s 4 methods), 1 unpaired fake."""
    samples = _video("real", "000", REAL, 6) + _video("real", "001", REAL, 6)
    for method in ("DF", "F2F", "FS", "NT"):
        samples += _video(method, "000_001", FAKE, 6, pair="D/real/000")
    return samples + _video("DF", "999_998", FAKE, 6)


def test_frames_per_video_takes_evenly_spaced_frames(ffpp_like):
    chosen = frames_per_video(ffpp_like, 3)
    counts = Counter(s.video_key for s in chosen)
    assert set(counts.values()) == {3} and len(counts) == 7
    assert [s.frame for s in chosen if s.video_key == "D/real/000"] == ["000", "002", "005"]
    assert frames_per_video(ffpp_like, None) == sorted(
        ffpp_like, key=lambda s: (s.video_key, s.frame)
    )


def test_pairing_puts_each_fake_next_to_its_source_frame_and_balances(ffpp_like):
    units = training_units(ffpp_like, pair_fakes=True, balance=True, seed=0, epoch=0)
    labels = Counter(ffpp_like[i].label for u in units for i in u)
    assert labels[REAL] == labels[FAKE]  # balanced
    for unit in units:
        assert [ffpp_like[i].label for i in unit] == [FAKE, REAL]
    pairs = {
        (ffpp_like[i].video_key, ffpp_like[i].frame, ffpp_like[j].video_key, ffpp_like[j].frame)
        for i, j in units
    }
    for fake in ffpp_like:  # each paired fake frame meets the same frame of its real video
        if fake.pair:
            assert (fake.video_key, fake.frame, fake.pair, fake.frame) in pairs
    used = {i for u in units for i in u}
    assert used == set(range(len(ffpp_like)))  # every frame appears


def test_balance_without_pairing_oversamples_the_smaller_class(ffpp_like):
    units = training_units(ffpp_like, pair_fakes=False, balance=True, seed=0, epoch=0)
    labels = Counter(ffpp_like[u[0]].label for u in units)
    assert labels[REAL] == labels[FAKE] == 30


def test_sampler_is_repeatable_changes_per_epoch_and_shards_ranks(ffpp_like):
    one = EpochSampler(ffpp_like, seed=3)
    first = list(one)
    assert first == list(EpochSampler(ffpp_like, seed=3))
    one.set_epoch(1)
    assert list(one) != first and set(one) == set(first) == set(range(len(ffpp_like)))
    ranks = [EpochSampler(ffpp_like, seed=3, rank=r, world_size=2) for r in (0, 1)]
    a, b = list(ranks[0]), list(ranks[1])
    n_units = len(first) // 2
    assert len(a) == len(b) == 2 * -(-n_units // 2)  # padded to equal length
    assert set(a + b) == set(first)  # nothing lost
    for order in (a, b):  # pairs stay together within a rank
        assert all(ffpp_like[order[k]].label == FAKE for k in range(0, len(order), 2))
    ranks[0].set_epoch(0, skip=4)
    assert list(ranks[0]) == a[4:] and len(ranks[0]) == len(a) - 4


def test_augment_is_deterministic_and_follows_its_probabilities():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    config = AugmentConfig()
    a = augment(image, config, np.random.default_rng([1, 2]))
    b = augment(image, config, np.random.default_rng([1, 2]))
    assert a.shape == image.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    off = AugmentConfig(hflip=0, affine_p=0, blur_p=0, jitter_p=0, jpeg_p=0)
    assert np.array_equal(augment(image, off, rng), image)
    flip = AugmentConfig(hflip=1, affine_p=0, blur_p=0, jitter_p=0, jpeg_p=0)
    assert np.array_equal(augment(image, flip, rng), image[:, ::-1])
    jpeg = AugmentConfig(hflip=0, affine_p=0, blur_p=0, jitter_p=0, jpeg_p=1, jpeg_quality=(40, 40))
    diff = np.abs(augment(image, jpeg, rng).astype(int) - image).mean()
    assert 5 < diff < 100  # lossy at quality 40, but the same picture
    blur = AugmentConfig(hflip=0, affine_p=0, blur_p=1, jitter_p=0, jpeg_p=0)
    assert augment(image, blur, rng).std() < image.std() * 0.6


def test_augment_config_rejects_unknown_keys_and_bad_values():
    assert AugmentConfig.from_dict({"enabled": False}) is None
    assert AugmentConfig.from_dict({"hflip": 0.2}).hflip == 0.2
    with pytest.raises(DatasetError, match="unknown keys"):
        AugmentConfig.from_dict({"hflp": 0.2})
    with pytest.raises(DatasetError, match="odd"):
        AugmentConfig(blur_kernel=4)
