"""Torch NMS against a plain greedy reference, on small and large box sets, and a guard that it
never builds an N x N tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

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


def vectorised_reference(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str
) -> list[int]:
    """The same greedy rule in numpy float32, one kept box's overlap row at a time."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        rest = i + 1 + np.flatnonzero(alive[i + 1 :])
        wh = np.minimum(boxes[i, 2:], boxes[rest, 2:]) - np.maximum(boxes[i, :2], boxes[rest, :2])
        inter = np.maximum(wh[:, 0], 0) * np.maximum(wh[:, 1], 0)
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        alive[rest[inter / np.maximum(denom, np.float32(1e-9)) > threshold]] = False
    return order[alive].tolist()


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


def many_boxes(n: int, seed: int, canvas: float, levels: int | None = None):
    """``n`` boxes of 8-80 px over a square ``canvas``; scores drawn from ``levels`` values
    (many ties) when given, and exact duplicates of the first tenth of the boxes."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, canvas, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(8, 80, (n, 2))], axis=1).astype(np.float32)
    boxes[n - n // 10 :] = boxes[: n // 10]
    scores = rng.random(n) if levels is None else rng.integers(0, levels, n) / levels
    return boxes, scores.astype(np.float32)


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize(
    ("n", "canvas", "levels", "threshold"),
    [(3000, 400.0, None, 0.5), (4000, 2000.0, None, 0.7), (3000, 800.0, 5, 0.3)],
)
def test_thousands_of_boxes_match_greedy(mode, n, canvas, levels, threshold) -> None:
    boxes, scores = many_boxes(n, seed=n + int(canvas), canvas=canvas, levels=levels)
    expected = vectorised_reference(boxes, scores, threshold, mode)
    assert 20 < len(expected) < n - n // 10  # both kept and suppressed boxes, duplicates gone
    b, s = torch.from_numpy(boxes), torch.from_numpy(scores)
    for block_size in (5, 37, 256, 1000):
        got = nms(b, s, threshold, mode, block_size=block_size)  # type: ignore[arg-type]
        assert got.tolist() == expected


def test_ties_keep_the_lower_index() -> None:
    box = torch.tensor([[0, 0, 10, 10]], dtype=torch.float32)
    boxes = torch.cat([box + 50, box, box, box + 1, box + 50])
    scores = torch.tensor([0.5, 0.9, 0.9, 0.9, 0.5])
    assert nms(boxes, scores, 0.5).tolist() == [1, 0]
    assert vectorised_reference(boxes.numpy(), scores.numpy(), 0.5, "union") == [1, 0]


class LargestTensorGuard(TorchDispatchMode):
    """Fails any torch op whose output has more than ``limit`` elements (and records the
    largest output seen)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, tuple | list) else [out]:
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel())
                if tensor.numel() > self.limit:
                    raise AssertionError(f"{func} made a {tuple(tensor.shape)} tensor")
        return out


def test_memory_is_linear_in_the_number_of_boxes() -> None:
    n, block_size = 20_000, 64
    boxes, scores = many_boxes(n, seed=7, canvas=1500.0)
    expected = vectorised_reference(boxes, scores, 0.5, "union")
    b, s = torch.from_numpy(boxes), torch.from_numpy(scores)
    # the largest tensors are the (kept of a block, rest) overlaps; N x N would be 400 M
    with LargestTensorGuard(limit=block_size * n) as guard:
        got = nms(b, s, 0.5, block_size=block_size)
    assert got.tolist() == expected
    assert block_size * n // 4 < guard.largest <= block_size * n
    with LargestTensorGuard(limit=block_size * n), pytest.raises(AssertionError):
        box_overlap(b[:2000])  # the guard trips on an N x N matrix (4 M here)
