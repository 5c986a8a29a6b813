"""Which frames of a video to use: evenly spaced, fixed stride, or max-spread from the middle;
and, when exact frames are not needed, nearby frames that are cheap to decode."""

from __future__ import annotations

from collections.abc import Sequence
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


SeekMode = Literal["exact", "keyframe"]
SEEK_MODES: tuple[str, ...] = ("exact", "keyframe")
KEYFRAME_SLACK = 16  # frames: moving a sample to save fewer decodes than this is not worth it


def keyframe_positions(
    wanted: Sequence[int], keyframes: Sequence[int], n_frames: int
) -> np.ndarray:
    """Frames to decode in place of ``wanted`` so the cost does not grow with video length.

    Each wanted frame owns a window reaching half way to its neighbours (a lone frame: the
    whole video; the first and last: as far out as in). It is replaced by the keyframe of its
    window nearest to it (ties: the earlier), which decodes without its group of pictures.
    With no keyframe in the window it stays exact when decoding it costs at most
    ``KEYFRAME_SLACK`` frames more than the window's first frame (the one nearest after its
    keyframe), else the first frame is taken. Windows do not overlap, so the result is as
    many distinct frames, ascending (int64). ``keyframes`` are frame indices, ascending.
    """
    points = sorted({int(w) for w in wanted})
    if points and (points[0] < 0 or points[-1] >= n_frames):
        raise IndexError(f"frame indices must lie in [0, {n_frames}), got {points}")
    keys = np.asarray(keyframes, dtype=np.int64)
    out = np.empty(len(points), dtype=np.int64)
    for k, (lo, point, hi) in enumerate(_windows(points, n_frames)):
        inside = keys[np.searchsorted(keys, lo) : np.searchsorted(keys, hi, side="right")]
        if inside.size:
            out[k] = inside[np.argmin(np.abs(inside - point))]  # first minimum: the earlier
        else:
            out[k] = point if point - lo <= KEYFRAME_SLACK else lo
    return out


def _windows(points: list[int], n_frames: int) -> list[tuple[int, int, int]]:
    """``(first, point, last)`` frame of each point's window; windows tile without overlap."""
    if len(points) == 1:
        return [(0, points[0], n_frames - 1)]
    windows = []
    for k, point in enumerate(points):
        after = (points[k + 1] - point - 1) // 2 if k + 1 < len(points) else None
        before = point - windows[-1][2] - 1 if windows else None
        lo = point - (before if before is not None else after)
        hi = point + (after if after is not None else before)
        windows.append((max(0, lo), point, min(n_frames - 1, hi)))
    return windows
