"""Group the faces of a video's sampled frames into persons by box overlap and distance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) in x1, y1, x2, y2 -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _match_scores(tracks: np.ndarray, boxes: np.ndarray, iou_min: float, dist_max: float):
    """Association score (higher is better, -inf = no match) of each track/box pair: overlap
    first (1 + IoU), then centre distance in units of the larger box side (1 - d)."""
    iou = box_iou(tracks, boxes)
    ct = (tracks[:, :2] + tracks[:, 2:]) / 2
    cb = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(
        (tracks[:, 2:] - tracks[:, :2]).max(axis=1)[:, None],
        (boxes[:, 2:] - boxes[:, :2]).max(axis=1)[None, :],
    )
    dist = np.linalg.norm(ct[:, None, :] - cb[None, :, :], axis=2) / np.maximum(size, 1e-6)
    score = np.full(iou.shape, -np.inf)
    near = dist <= dist_max
    score[near] = 1.0 - dist[near] / max(dist_max, 1e-6)
    overlap = iou >= iou_min
    score[overlap] = 1.0 + iou[overlap]
    return score


def track_faces(
    frames: Sequence[np.ndarray], *, iou_min: float = 0.3, dist_max: float = 0.5
) -> list[list[int]]:
    """Person id of every box, frame by frame.

    ``frames`` holds one (K, 4) box array per sampled frame, in time order. Each box joins the
    person whose last box overlaps it most (IoU >= ``iou_min``) or, failing that, whose last
    box centre is nearest (within ``dist_max`` box sizes); a person takes at most one box per
    frame; unmatched boxes start new persons. Persons are numbered by first appearance.
    """
    last: list[np.ndarray] = []
    ids: list[list[int]] = []
    for boxes in frames:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        assigned = [-1] * len(boxes)
        if last and len(boxes):
            score = _match_scores(np.stack(last), boxes, iou_min, dist_max)
            for flat in np.argsort(-score, axis=None):
                t, b = np.unravel_index(flat, score.shape)
                if not np.isfinite(score[t, b]):
                    break
                if assigned[b] == -1 and t not in assigned:
                    assigned[b] = int(t)
        for b, box in enumerate(boxes):
            if assigned[b] == -1:
                assigned[b] = len(last)
                last.append(box)
            else:
                last[assigned[b]] = box
        ids.append(assigned)
    return ids
