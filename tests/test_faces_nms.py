"""Torch NMS against a plain greedy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdetect.faces.nms import batched_nms, box_overlap, nms


def greedy_reference(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str
) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            x1, y1 = np.maximum(boxes[i, :2], boxes[j, :2])
            x2, y2 = np.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            ai = np.prod(boxes[i, 2:] - boxes[i, :2])
            aj = np.prod(boxes[j, 2:] - boxes[j, :2])
            denom = min(ai, aj) if mode == "min" else ai + aj - inter
            if inter / denom > threshold:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep


def random_boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32), rng.permutation(n).astype(
        np.float32
    )


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_greedy(mode: str, seed: int) -> None:
    boxes, scores = random_boxes(150, seed)
    kept = []
    for threshold in (0.3, 0.5, 0.7):
        expected = greedy_reference(boxes, scores, threshold, mode)
        got = nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold, mode).tolist()  # type: ignore[arg-type]
        assert got == expected
        kept.append(len(got))
    assert 0 < kept[0] < kept[2] <= 150  # the lower threshold suppresses more


def test_overlap_values() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 5, 5]], dtype=torch.float32)
    iou = box_overlap(boxes)
    assert iou[0, 1].item() == pytest.approx(50 / 150)
    assert box_overlap(boxes, "min")[0, 2].item() == pytest.approx(1.0)


def test_batched_keeps_groups_apart() -> None:
    box = torch.tensor([[0, 0, 10, 10]], dtype=torch.float32)
    boxes = torch.cat([box, box, box + 1])
    scores = torch.tensor([0.9, 0.8, 0.7])
    groups = torch.tensor([0, 1, 1])
    assert sorted(batched_nms(boxes, scores, groups, 0.5).tolist()) == [0, 1]
    assert nms(boxes[:0], scores[:0], 0.5).numel() == 0
