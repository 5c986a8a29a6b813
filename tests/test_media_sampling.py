"""Frame sampling: even, stride and max-spread from the middle frame."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.media import sample_frame_indices


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
