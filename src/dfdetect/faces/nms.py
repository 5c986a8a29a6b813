"""Non-maximum suppression in torch (CPU or GPU), exact greedy result without a Python loop
over boxes."""

from __future__ import annotations

from typing import Literal

import torch

OverlapMode = Literal["union", "min"]


def box_overlap(boxes: torch.Tensor, mode: OverlapMode = "union") -> torch.Tensor:
    """(N, N) overlap of x1,y1,x2,y2 boxes: intersection over union, or over the smaller box."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    if mode == "min":
        denom = torch.minimum(area[:, None], area[None, :])
    else:
        denom = area[:, None] + area[None, :] - inter
    return inter / denom.clamp(min=1e-9)


def nms(
    boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: OverlapMode = "union"
) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, highest score first.

    Greedy NMS keeps a box iff no higher-scored *kept* box overlaps it by more than
    ``threshold``. That rule is iterated as a fixed point over all boxes at once: after k
    rounds the first k boxes (by score) are final, and in practice it settles in a few rounds.
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True)
    suppresses = torch.triu(box_overlap(boxes[order], mode) > threshold, diagonal=1).float()
    keep = torch.ones(order.shape[0], dtype=torch.bool, device=boxes.device)
    for _ in range(order.shape[0]):
        new_keep = (keep.float() @ suppresses) == 0
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return order[keep]


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    threshold: float,
    mode: OverlapMode = "union",
) -> torch.Tensor:
    """NMS within each group (e.g. image of a batch); indices of kept boxes, by group."""
    kept = [
        members[nms(boxes[members], scores[members], threshold, mode)]
        for group in torch.unique(groups)
        for members in [torch.nonzero(groups == group).squeeze(1)]
    ]
    if not kept:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    return torch.cat(kept)
