"""Frame sampling: even, stride and max-spread from the middle frame."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.media import keyframe_positions, sample_frame_indices
from dfdetect.media.sampling import KEYFRAME_SLACK


def test_even_spans_first_to_last() -> None:
    idx = sample_frame_indices(300, 32, "even")
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] == 299
    gaps = np.diff(idx)
    assert gaps.min() >= 9 and gaps.max() <= 10


def test_even_short_video_gives_every_frame() -> None:
    np.testing.assert_array_equal(sample_frame_indices(10, 32, "even"), np.arange(10))


def test_stride() -> None:
    np.testing.assert_array_equal(
        sample_frame_indices(100, 5, "stride", stride=7), [0, 7, 14, 21, 28]
    )
    np.testing.assert_array_equal(sample_frame_indices(20, 50, "stride", stride=6), [0, 6, 12, 18])
    with pytest.raises(ValueError, match="stride"):
        sample_frame_indices(100, 5, "stride")


def test_max_spread_order() -> None:
    idx = sample_frame_indices(101, 7, "max-spread")
    # middle, then the ends, then the midpoints of the largest gaps (lower index on ties)
    np.testing.assert_array_equal(idx, [50, 0, 100, 25, 75, 12, 37])


def test_max_spread_every_prefix_is_spread() -> None:
    n_frames = 1000
    idx = sample_frame_indices(n_frames, 32, "max-spread")
    assert len(set(idx.tolist())) == 32 and idx[0] == n_frames // 2
    for k in (3, 8, 16, 32):
        gaps = np.diff(np.sort(idx[:k]))
        assert gaps.max() <= 2 * gaps.min() + 1  # near-uniform coverage at every prefix
    np.testing.assert_array_equal(np.sort(sample_frame_indices(5, 32, "max-spread")), np.arange(5))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown sampling mode"):
        sample_frame_indices(10, 2, "random")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sample_frame_indices(10, 0)
    assert len(sample_frame_indices(0, 8, "even")) == 0


def test_keyframe_positions_take_the_nearest_keyframe_in_reach() -> None:
    # windows [0, 49], [50, 149], [150, 200]: each holds one keyframe
    assert keyframe_positions([0, 100, 200], [0, 90, 180], 201).tolist() == [0, 90, 180]
    # the keyframe nearest to the wanted frame; ties go to the earlier one
    assert keyframe_positions([100], [0, 95, 110], 201).tolist() == [95]
    assert keyframe_positions([50], [40, 60], 101).tolist() == [40]
    # a keyframe just outside a window is not taken
    assert keyframe_positions([0, 100, 200], [0, 150], 201).tolist() == [0, 100 - 50, 150]


def test_keyframe_positions_without_a_keyframe_in_reach() -> None:
    # near its window's start: exact (decoding from there saves at most KEYFRAME_SLACK frames)
    assert keyframe_positions([0, 10, 20], [0], 21).tolist() == [0, 10, 20]
    # far from it: the window's first frame, the cheapest to reach from the keyframe before
    assert keyframe_positions([0, 100, 200], [0], 201).tolist() == [0, 50, 150]
    gap = 2 * KEYFRAME_SLACK + 2  # the middle window starts KEYFRAME_SLACK + 1 frames early
    assert keyframe_positions([0, gap, 2 * gap], [0], 2 * gap + 1).tolist() == [
        0,
        KEYFRAME_SLACK + 1,
        2 * gap - (KEYFRAME_SLACK + 1),
    ]


def test_keyframe_positions_are_distinct_ascending_and_within_reach() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n_frames = int(rng.integers(1, 5000))
        keys = np.unique(np.r_[0, rng.integers(0, n_frames, int(rng.integers(0, 40)))])
        wanted = np.unique(rng.integers(0, n_frames, int(rng.integers(1, 40))))
        got = keyframe_positions(wanted, keys, n_frames)
        assert len(got) == len(wanted) and np.all(np.diff(got) > 0)
        assert got.min() >= 0 and got.max() < n_frames
        if len(wanted) > 1:  # at most half way to a neighbour
            gaps = np.diff(wanted)
            reach = np.maximum(np.r_[gaps[:1], gaps], np.r_[gaps, gaps[-1:]]) / 2
            assert np.all(np.abs(got - wanted) <= reach)


def test_keyframe_positions_bad_indices() -> None:
    with pytest.raises(IndexError):
        keyframe_positions([10], [0], 10)
