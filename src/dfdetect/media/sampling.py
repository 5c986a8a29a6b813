"""Which frames of a video to use: evenly spaced, fixed stride, or max-spread from the middle."""

from __future__ import annotations

from typing import Literal

import numpy as np

SamplingMode = Literal["even", "stride", "max-spread"]
SAMPLING_MODES: tuple[str, ...] = ("even", "stride", "max-spread")


def sample_frame_indices(
    n_frames: int, n: int, mode: SamplingMode = "even", stride: int | None = None
) -> np.ndarray:
    """Up to ``n`` distinct frame indices of a video with ``n_frames`` frames (int64).

    - ``even``: ``n`` indices evenly spaced from the first to the last frame (ascending).
    - ``stride``: every ``stride``-th frame from frame 0, at most ``n`` (ascending).
    - ``max-spread``: the middle frame first, then each next index the one farthest from all
      already chosen (ties: the lower index). Any prefix is itself spread over the video, so
      the order is kept: take the first k for k frames.

    All frames are returned (in the mode's order) when the video has fewer than ``n``.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if mode == "stride":
        if stride is None or stride < 1:
            raise ValueError(f"mode 'stride' needs stride >= 1, got {stride}")
        return np.arange(0, n_frames, stride, dtype=np.int64)[:n]
    if mode == "even":
        if n_frames <= n:
            return np.arange(n_frames, dtype=np.int64)
        return np.unique(np.rint(np.linspace(0, n_frames - 1, n)).astype(np.int64))
    if mode == "max-spread":
        return _max_spread(n_frames, min(n, n_frames))
    raise ValueError(f"unknown sampling mode {mode!r}; known: {list(SAMPLING_MODES)}")


def _max_spread(n_frames: int, n: int) -> np.ndarray:
    chosen = np.empty(n, dtype=np.int64)
    positions = np.arange(n_frames, dtype=np.int64)
    distance = np.full(n_frames, np.iinfo(np.int64).max, dtype=np.int64)
    pick = n_frames // 2
    for k in range(n):
        chosen[k] = pick
        np.minimum(distance, np.abs(positions - pick), out=distance)
        pick = int(np.argmax(distance))  # first maximum: the lower index on ties
    return chosen
