"""Non-maximum suppression in torch (CPU or GPU): the exact greedy result in memory linear in
the number of boxes, one block of boxes at a time."""

from __future__ import annotations

from typing import Literal

import torch

OverlapMode = Literal["union", "min"]

BLOCK_SIZE = 128  # boxes resolved together: memory O(BLOCK_SIZE * N), N / BLOCK_SIZE steps


def box_overlap(
    boxes: torch.Tensor, mode: OverlapMode = "union", others: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, M) overlap of x1,y1,x2,y2 ``boxes`` with ``others`` (default: ``boxes``, N x N):
    intersection over union, or over the smaller box."""
    others = boxes if others is None else others
    x1, y1, x2, y2 = boxes[:, :, None].unbind(1)  # (N, 1) each
    ox1, oy1, ox2, oy2 = others.T[:, None, :].unbind(0)  # (1, M) each
    inter = torch.minimum(x2, ox2).sub_(torch.maximum(x1, ox1)).clamp_(min=0)
    inter.mul_(torch.minimum(y2, oy2).sub_(torch.maximum(y1, oy1)).clamp_(min=0))
    area, other_area = _area(boxes)[:, None], _area(others)[None, :]
    denom = torch.minimum(area, other_area) if mode == "min" else (area + other_area).sub_(inter)
    return inter.div_(denom.clamp_(min=1e-9))


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    threshold: float,
    mode: OverlapMode = "union",
    *,
    block_size: int = BLOCK_SIZE,
) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, highest score first (equal scores: lower index
    first).

    Greedy NMS keeps a box iff no higher-scored *kept* box overlaps it by more than
    ``threshold``. The boxes, by score, are taken ``block_size`` at a time: the boxes of a
    block that earlier kept boxes left standing are resolved among themselves (the rule
    iterated as a fixed point on the block's overlaps: after k rounds its first k boxes are
    final), then the block's kept boxes strike out the later boxes they overlap, so each
    later block only sees survivors. Memory is O(block_size * N), never N x N; the work is
    about (kept boxes) x (surviving boxes) overlaps, in N / block_size vectorised steps.
    """
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True, stable=True)
    boxes = boxes[order]
    alive = torch.ones(n, dtype=torch.bool, device=boxes.device)
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        members = start + torch.nonzero(alive[start:stop]).squeeze(1)
        if members.numel() == 0:
            continue
        block = boxes[members]
        kept = _resolve_block(box_overlap(block, mode) > threshold)
        alive[members] = kept
        rest = stop + torch.nonzero(alive[stop:]).squeeze(1)
        if rest.numel() == 0:
            break
        suppressed = (box_overlap(block[kept], mode, boxes[rest]) > threshold).any(dim=0)
        alive[rest[suppressed]] = False
    return order[alive]


def _resolve_block(overlaps: torch.Tensor) -> torch.Tensor:
    """Greedy keep-mask of boxes in score order given their (B, B) ``overlaps > threshold``:
    the unique fixed point of "kept iff no kept earlier box overlaps it"."""
    suppresses = torch.triu(overlaps, diagonal=1).float()
    keep = torch.ones(overlaps.shape[0], dtype=torch.bool, device=overlaps.device)
    for _ in range(overlaps.shape[0]):
        new_keep = (keep.float() @ suppresses) == 0
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


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
