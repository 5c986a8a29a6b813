"""The MTCNN cascade in NumPy around the ONNX Runtime graphs, for the CPU.

The same steps and numbers as the torch cascade (:mod:`dfdetect.faces.mtcnn`): the area
pyramid and 2x halvings of :mod:`dfdetect.faces.mtcnn_resize`, bilinear crops by the same
``grid_sample`` call, the same greedy NMS; only the networks' float arithmetic differs. Its
large operations are ONNX Runtime's (threads that sleep when idle) and NumPy's (one thread):
torch hands each operation to its thread pool, and while other processes hold the cores those
hand-offs cost more than the operations (measured: the torch cascade on 2 threads ran 10x
slower than on one).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dfdetect.faces.face import Face
from dfdetect.faces.mtcnn import (
    MAX_PROPOSALS,
    PNET_WINDOW,
    STAGE_THRESHOLDS,
    crop_levels,
    pyramid_scales,
    sample_boxes,
)
from dfdetect.faces.mtcnn_onnx import OnnxNets
from dfdetect.faces.mtcnn_resize import area_resize, halve
from dfdetect.faces.nms import OverlapMode, nms


class Halvings:
    """A float32 image (H, W, 3) and its successive 2x halvings, each made when first needed
    (the candidate crops are read from them)."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels = [image]

    def __getitem__(self, level: int) -> np.ndarray:
        while len(self.levels) <= level:
            self.levels.append(halve(self.levels[-1]))
        return self.levels[level]


class OnnxCascade:
    """PNet -> RNet -> ONet on ``nets``; ``threshold`` is the final (ONet) score."""

    def __init__(self, nets: OnnxNets, threshold: float) -> None:
        self.nets = nets
        self.threshold = threshold

    def detect_batch(self, batch: np.ndarray, min_face: float) -> list[list[Face]]:
        """Faces in ``batch``'s pixels (N, H, W, 3 uint8), searched down to ``min_face`` (at
        least the PNet window) and kept from ``min_face`` up, highest score first."""
        frames = [Halvings(image.astype(np.float32)) for image in batch]
        height, width = batch.shape[1:3]
        boxes = self._propose(frames, height, width, max(min_face, PNET_WINDOW))
        boxes = self._refine(frames, boxes)
        results = []
        for box, score, points in self._output(frames, boxes):
            box[:, 0::2] = box[:, 0::2].clip(0, width)
            box[:, 1::2] = box[:, 1::2].clip(0, height)
            keep = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]) >= min_face
            faces = [
                Face(b, float(s), p)
                for b, s, p in zip(box[keep], score[keep], points[keep], strict=True)
            ]
            results.append(sorted(faces, key=lambda face: -face.score))
        return results

    def _propose(
        self, frames: list[Halvings], height: int, width: int, min_face: float
    ) -> list[np.ndarray]:
        """PNet over the pyramid: square candidate boxes (M, 4) per image."""
        found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in frames]
        levels: list[np.ndarray] = []
        for scale in pyramid_scales(height, width, min_face):
            size = (math.ceil(height * scale), math.ceil(width * scale))
            sources = levels or [frame[0] for frame in frames]  # each level from the last
            levels = [area_resize(level, size) for level in sources]
            prob, offsets = self.nets("pnet", np.stack(levels))
            group, row, col = np.nonzero(prob > STAGE_THRESHOLDS[0])
            scores = prob[group, row, col]
            if scores.size > MAX_PROPOSALS * len(frames):
                top = np.argsort(-scores, kind="stable")[: MAX_PROPOSALS * len(frames)]
                group, row, col, scores = group[top], row[top], col[top], scores[top]
            cells = np.stack([col, row, col, row], axis=1).astype(np.float32) * 2
            cells[:, 2:] += 12
            cells /= np.float32(scale)
            boxes = _regress(cells, offsets[group, :, row, col])
            for i, found_i in enumerate(found):
                members = np.nonzero(group == i)[0]
                keep = members[greedy_nms(cells[members], scores[members], 0.5)]
                found_i.append((boxes[keep], scores[keep]))
        out = []
        for found_i in found:
            boxes = np.concatenate([b for b, _ in found_i] or [np.zeros((0, 4), np.float32)])
            scores = np.concatenate([s for _, s in found_i] or [np.zeros(0, np.float32)])
            out.append(_square(boxes[greedy_nms(boxes, scores, 0.7)]))
        return out

    def _run(
        self, name: str, frames: list[Halvings], boxes: list[np.ndarray], size: int
    ) -> list[tuple[np.ndarray, ...]]:
        """``name``'s outputs on all images' candidates (one call), per image."""
        crops = [crop_boxes(f, b, size) for f, b in zip(frames, boxes, strict=True)]
        outputs = self.nets(name, np.concatenate(crops))
        bounds = np.cumsum([len(b) for b in boxes])[:-1]
        return list(zip(*(np.split(out, bounds) for out in outputs), strict=True))

    def _refine(self, frames: list[Halvings], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """RNet on 24x24 crops: rejects candidates, regresses and re-squares the rest."""
        if not sum(len(b) for b in boxes):
            return boxes
        out = []
        for box, (prob, offsets) in zip(boxes, self._run("rnet", frames, boxes, 24), strict=True):
            keep = prob > STAGE_THRESHOLDS[1]
            box, prob, offsets = box[keep], prob[keep], offsets[keep]
            keep = greedy_nms(box, prob, 0.7)
            out.append(_square(_regress(box[keep], offsets[keep])))
        return out

    def _output(self, frames: list[Halvings], boxes: list[np.ndarray]):
        """ONet on 48x48 crops: per image final boxes, scores and (M, 5, 2) landmarks."""
        if not sum(len(b) for b in boxes):
            empty = (np.zeros((0, 4), np.float32), np.zeros(0), np.zeros((0, 5, 2), np.float32))
            return [empty for _ in boxes]
        out = []
        outputs = self._run("onet", frames, boxes, 48)
        for box, (prob, offsets, points) in zip(boxes, outputs, strict=True):
            keep = prob >= self.threshold
            box, prob, offsets, points = box[keep], prob[keep], offsets[keep], points[keep]
            size = (box[:, 2:] - box[:, :2])[:, None, :]
            landmarks = box[:, None, :2] + np.stack([points[:, :5], points[:, 5:]], axis=2) * size
            box = _regress(box, offsets)
            keep = greedy_nms(box, prob, 0.7, mode="min")
            out.append((box[keep], prob[keep], landmarks[keep]))
        return out


def greedy_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: OverlapMode = "union"
) -> np.ndarray:
    """:func:`dfdetect.faces.nms.nms` on arrays. Its float32 overlaps, not e.g. OpenCV's
    float64 ones: PNet boxes two cells apart overlap by exactly 0.5, the threshold, so
    rounding decides, and it must decide as in the torch cascade."""
    return nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold, mode).numpy()


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each box edge by its offset times the box width (x) or height (y)."""
    return boxes + offsets * np.tile(boxes[:, 2:] - boxes[:, :2], 2)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square about its centre."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def crop_boxes(frame: Halvings, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each box of ``frame`` resampled bilinearly to (3, ``size``, ``size``), zeros outside
    the image, read from the halving at most twice the output size (no aliasing): exactly the
    torch cascade's crops."""
    out = np.zeros((len(boxes), 3, size, size), np.float32)
    if not len(boxes):
        return out
    boxes = torch.from_numpy(boxes)
    levels = crop_levels(boxes, size).numpy()
    for level in np.unique(levels).tolist():
        members = np.nonzero(levels == level)[0]
        image = torch.from_numpy(frame[level]).permute(2, 0, 1)[None]
        crops = sample_boxes(image, boxes[members] / (2**level), size)
        out[members] = crops.numpy()
    return out
